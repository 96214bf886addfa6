import Digests
import Events
import Foundation
import Rules

/// The customer portal's settings, from `pipeline.yaml`'s `portal` section. The secret signs links and opt-out
/// forms; it is never logged or printed (`description` leaves it out).
public struct PortalConfiguration: Sendable, CustomStringConvertible {
    public var secret: [UInt8]
    /// Where an opt-out's `consent` event is produced: a source topic, so that the engine sees it.
    public var consentTopic: String
    /// The portal's public origin and path prefix (`https://privacy.example.com`), for minted links and the
    /// Origin/Referer check; without it, the request's own host is taken.
    public var baseURL: String?
    public var linkTTL: Events.Duration
    public var language: Language
    /// The portal's own listener (apart from health and metrics): `portal.host` (default `http.host`) and
    /// `portal.port` (default 8080).
    public var host: String?
    public var port: Int

    public init(secret: [UInt8], consentTopic: String, baseURL: String? = nil, linkTTL: Events.Duration = .days(30),
                language: Language = .en, host: String? = nil, port: Int = PortalConfiguration.defaultPort) {
        self.secret = secret
        self.consentTopic = consentTopic
        self.baseURL = baseURL
        self.linkTTL = linkTTL
        self.language = language
        self.host = host
        self.port = port
    }

    public static let defaultPort = 8080

    /// The `portal` section of `pipeline.yaml`.
    public static let schema = SettingsField(
        "portal",
        .map(SettingsField.secret("secret") + [
            SettingsField("consent_topic", .text(.any), required: true),
            SettingsField("base_url", .text(.httpURL)),
            SettingsField("link_ttl", .text(.positiveDuration)),
            SettingsField("language", .text(.oneOf(Language.allCases.map(\.rawValue)))),
            SettingsField("host", .text(.any)),
            SettingsField("port", .text(.port)),
        ]))

    public var description: String {
        "portal(consent_topic: \(consentTopic), base_url: \(baseURL ?? "-"), link_ttl: \(linkTTL.microseconds / 1_000_000)s, port: \(port))"
    }

    static let minimumSecretBytes = 32

    /// Only the `portal` section of a pipeline (for minting links without the daemon's other settings).
    public static func load(pipeline: Pipeline, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(PortalError) -> PortalConfiguration?
    {
        try load(SettingsReader(settings: pipeline.settings, environment: environment) { PortalError(.arguments, $0) },
                 resolve: pipeline.resolve)
    }

    /// `portal: {secret | secret_file, consent_topic, base_url, link_ttl, language}`; nil without a `portal` section.
    public static func load(_ reader: SettingsReader<PortalError>, resolve: (String) -> String) throws(PortalError) -> PortalConfiguration? {
        guard let portal = try reader.map(["portal"], required: false) else { return nil }
        let secret = Array((try reader.secretText(portal, "secret", path: "portal", resolve: resolve) ?? "").utf8)
        guard secret.count >= minimumSecretBytes else {
            throw PortalError(.arguments, "portal.secret (or secret_file) must hold at least \(minimumSecretBytes) bytes, "
                              + "e.g. from `openssl rand -base64 48`")
        }
        guard let topic = try reader.string(portal, "consent_topic", path: "portal") else {
            throw PortalError(.arguments, "portal.consent_topic is required: the topic an opt-out's consent event goes to")
        }
        let base = try reader.string(portal, "base_url", path: "portal").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        if let base, !(base.hasPrefix("https://") || base.hasPrefix("http://")) {
            throw PortalError(.arguments, "portal.base_url must be an http(s) URL")
        }
        let ttl = try reader.string(portal, "link_ttl", path: "portal").map { text throws(PortalError) -> Events.Duration in
            guard let d = Events.Duration(parsing: text), d.microseconds > 0 else {
                throw PortalError(.arguments, "portal.link_ttl must be a duration such as 30d")
            }
            return d
        } ?? .days(30)
        let language = try reader.string(portal, "language", path: "portal").map { code throws(PortalError) -> Language in
            guard let l = Language(rawValue: code) else {
                throw PortalError(.arguments, "portal.language must be one of \(Language.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return l
        } ?? .en
        let port = try reader.port(portal, "port", path: "portal") ?? defaultPort
        return PortalConfiguration(
            secret: secret, consentTopic: topic, baseURL: base, linkTTL: ttl, language: language,
            host: try reader.string(portal, "host", path: "portal"), port: port)
    }
}
