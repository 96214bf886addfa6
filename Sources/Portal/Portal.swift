import Digests
import Events
import Foundation
import Hummingbird
import Logging
import NIOCore
import Processing
import Rules
import Storage

/// The customer portal on the daemon's HTTP server. `GET /portal/<link>` shows the customer's page for the month the
/// signed link names, with an opt-out form for each consent-based purpose; `POST /portal/<link>/opt-out` records a
/// `consent` event (`withdrawn`, source `web`) in the outbox for the consent topic and redirects back to the page
/// (Post/Redirect/Get). Every refusal is the same 403 page, whatever was wrong.
/// What the portal counts (the daemon's metrics).
public protocol PortalMetrics: Sendable {
    func portalRequest(outcome: String)
}

public struct Portal: Sendable {
    let configuration: PortalConfiguration
    let pipelineName: String
    let context: DigestContext
    let decoder: EventDecoder
    let store: any StateStore
    let signer: PortalSigner
    let now: @Sendable () -> Date
    let logger: Logger
    let metrics: (any PortalMetrics)?

    public init(configuration: PortalConfiguration, pipeline: Pipeline, store: any StateStore, logger: Logger,
                metrics: (any PortalMetrics)? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        pipelineName = pipeline.name
        context = DigestContext(pipeline: pipeline)
        decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        self.store = store
        signer = PortalSigner(secret: configuration.secret)
        self.now = now
        self.logger = logger
        self.metrics = metrics
    }

    /// A link for a customer's month, valid for `ttl` (default: the configured `link_ttl`): the full URL when
    /// `base_url` is set, else the path.
    public static func link(
        configuration: PortalConfiguration, subject: String, month: String, ttl: Events.Duration? = nil, now: Date = Date()
    ) throws(PortalError) -> String {
        guard !subject.isEmpty, subject.utf8.count <= 256 else { throw PortalError(.arguments, "a subject has 1 to 256 characters") }
        guard PortalLink.isMonth(month) else { throw PortalError(.arguments, "the month must be written YYYY-MM, not '\(month)'") }
        let seconds = Double((ttl ?? configuration.linkTTL).microseconds) / 1e6
        let link = PortalLink(subject: subject, month: month, expires: now.addingTimeInterval(seconds))
        return (configuration.baseURL ?? "") + "/portal/" + link.token(PortalSigner(secret: configuration.secret))
    }

    public func routes(_ router: Router<BasicRequestContext>) {
        router.get("/portal/:link") { request, context in
            self.counted(await self.page(request, token: context.parameters.get("link") ?? ""), success: "page")
        }
        router.post("/portal/:link/opt-out") { request, context in
            self.counted(await self.optOut(request, token: context.parameters.get("link") ?? ""), success: "opt_out")
        }
    }

    private func counted(_ response: Response, success: String) -> Response {
        let outcome = switch response.status {
        case .forbidden: "refused"
        case .ok, .seeOther: success
        default: "error"
        }
        metrics?.portalRequest(outcome: outcome)
        return response
    }

    private var prefix: String { (configuration.baseURL ?? "") + "/portal/" }

    func page(_ request: Request, token: String) async -> Response {
        guard let link = PortalLink(token: token[...], signer: signer, now: now()) else { return Self.forbidden }
        let digest: SubjectDigest
        do {
            if let stored = try await store.loadGlobal(namespace: DigestSpace.subjects(pipelineName, month: link.month), key: link.subject) {
                digest = try SubjectDigest(jsonText: String(decoding: stored, as: UTF8.self), origin: "stored digest")
            } else {
                digest = SubjectDigest(subject: link.subject, month: link.month)
            }
        } catch {
            logger.error("portal: cannot load a digest", metadata: ["month": "\(link.month)", "error": "\(error)"])
            return Self.plain(.serviceUnavailable, "The page is not available right now. Please try again later.\n")
        }
        var pageContext = context
        do {
            pageContext.policyChange = try await NoticeHistory(store: store, pipeline: pipelineName).change(inMonth: link.month)
        } catch {
            logger.warning("portal: cannot read the notice versions", metadata: ["error": "\(error)"])
        }
        // The confirmation shows only after a recorded opt-out: the redirect carries a MAC of the link and purpose.
        if let withdrawn = request.uri.queryParameters.get("withdrawn"), PortalLink.isPurposeKey(withdrawn),
           let saved = request.uri.queryParameters.get("saved").flatMap({ Base64URL.decode($0[...]) }),
           signer.verify(Self.savedPurpose, Self.savedPayload(token, String(withdrawn)), code: saved) {
            pageContext.currentConsent[withdrawn] = "withdrawn"
            pageContext.optOutSaved = withdrawn
        }
        let purposes = context.consentPurposes + digest.consentState.map(\.purpose) + digest.consent.map(\.purpose)
        let at = now()
        var tokens: [String: String] = [:]
        for purpose in purposes where tokens[purpose] == nil {
            tokens[purpose] = OptOutToken(link: token[...], purpose: purpose, now: at).token(signer)
        }
        pageContext.optOut = OptOutAction(url: prefix + token + "/opt-out", csrfToken: "", purposeTokens: tokens)
        let language = request.uri.queryParameters.get("lang").flatMap { Language(rawValue: String($0)) } ?? configuration.language
        let html = DigestRenderer(language: language, context: pageContext).subjectHTML(digest)
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func optOut(_ request: Request, token: String) async -> Response {
        guard let link = PortalLink(token: token[...], signer: signer, now: now()), sameOrigin(request), Self.isForm(request) else {
            return Self.forbidden
        }
        var request = request
        guard let body = try? await request.collectBody(upTo: 8 * 1024) else { return Self.forbidden }
        let form = Self.formFields(String(buffer: body))
        let at = now()
        guard let purpose = form["purpose"], let csrf = form["csrf_token"],
              let press = OptOutToken(token: csrf[...], link: token[...], purpose: purpose, signer: signer, now: at)
        else { return Self.forbidden }
        let id = press.eventID(signer)
        let event = JSONValue.object([
            ("id", .string(id)), ("type", "consent"),
            ("time", .string(Timestamp(microseconds: Int64(at.timeIntervalSince1970 * 1000) * 1000).rfc3339)),
            ("subject", .string(link.subject)), ("purpose", .string(purpose)), ("status", "withdrawn"), ("source", "web"),
            ("attributes", .object([("channel", "portal")])),
        ])
        let value = event.bytes
        guard case .success = decoder.decode(value) else { return Self.forbidden }
        let topic = "kafka:" + configuration.consentTopic
        // The outbox ignores a second row with the same id: a repeated press is published once.
        let row = OutboxRow(id: "\(topic)#\(id)", kind: "consent", topic: topic, key: Array(link.subject.utf8), value: value,
                            headers: [OutboxHeader(key: "consentinel-source", value: Array("portal".utf8))])
        do {
            try await store.commit(BatchCommit(outbox: [row]), pipeline: pipelineName)
        } catch {
            logger.error("portal: cannot record an opt-out", metadata: ["event": "\(id)", "error": "\(error)"])
            return Self.plain(.serviceUnavailable, "Your choice could not be saved. Please try again later.\n")
        }
        logger.info("portal: opt-out recorded", metadata: ["event": "\(id)", "purpose": "\(purpose)"])
        var query = URLComponents()
        query.queryItems = [
            URLQueryItem(name: "withdrawn", value: purpose),
            URLQueryItem(name: "saved", value: Base64URL.encode(signer.mac(Self.savedPurpose, Self.savedPayload(token, purpose)))),
        ]
        var headers = Self.securityHeaders
        headers[.location] = prefix + token + (query.percentEncodedQuery.map { "?" + $0 } ?? "")
        return Response(status: .seeOther, headers: headers)
    }

    static let savedPurpose = "saved"

    static func savedPayload(_ link: String, _ purpose: String) -> [UInt8] { Array(link.utf8) + [0] + Array(purpose.utf8) }

    /// A browser's POST names where it comes from (Origin, else Referer): it must be the portal's own origin
    /// (`base_url`'s scheme, host and port; without `base_url`, the host and port the request was sent to, since a
    /// proxy in front may have ended TLS). A request with neither header (not a browser) rests on the form's token alone.
    func sameOrigin(_ request: Request) -> Bool {
        let claimed = request.headers[.origin] ?? request.headers[.referer].map(Self.origin)
        guard let claimed else { return true }
        guard let origin = Self.normalisedOrigin(claimed) else { return false }
        if let base = configuration.baseURL {
            guard let expected = Self.normalisedOrigin(base) else { return false }
            return origin == expected
        }
        guard let authority = request.head.authority, let host = Self.normalisedOrigin(origin.scheme + "://" + authority) else {
            return false
        }
        return origin.host == host.host && origin.port == host.port
    }

    /// The page's forms post `application/x-www-form-urlencoded` (parameters such as `charset` aside); a body of any
    /// other type, or of none, is no press.
    static func isForm(_ request: Request) -> Bool {
        guard let type = request.headers[.contentType] else { return false }
        return type.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased() == "application/x-www-form-urlencoded"
    }

    /// Scheme, host and port of a URL, lower-cased, with the scheme's default port filled in.
    static func normalisedOrigin(_ url: String) -> (scheme: String, host: String, port: Int)? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        guard let port = components.port ?? ["http": 80, "https": 443][scheme] else { return nil }
        return (scheme, host, port)
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return String(url[..<scheme.upperBound] + (rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""))
    }

    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard parts.count == 2, let key = decode(parts[0]), let value = decode(parts[1]), fields[key] == nil else { continue }
            fields[key] = value
        }
        return fields
    }

    static let securityHeaders: HTTPFields = [
        .cacheControl: "no-store",
        .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .init("Referrer-Policy")!: "same-origin",
        .init("X-Frame-Options")!: "DENY",
        .init("X-Content-Type-Options")!: "nosniff",
    ]

    static let forbiddenPage = """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\
        <title>Link not valid</title></head><body><h1>This link is not valid</h1>\
        <p>It may have expired. Please use the newest link we sent you, or ask us for a new one.</p></body></html>

        """

    /// The one answer to every link or form that does not hold: it says nothing about why.
    static var forbidden: Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .forbidden, headers: headers, body: .init(byteBuffer: ByteBuffer(string: forbiddenPage)))
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension PortalLink {
    /// A data-use key as the taxonomy writes them (`marketing.advertising`): letters, digits, `_` and dots.
    static func isPurposeKey(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.count <= 200
            && text.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 46 }
    }
}
