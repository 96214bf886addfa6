import Events
import Foundation
import Rules

/// The `alerts:` section of `pipeline.yaml`: routes with their channels, and the retry policy of deliveries.
/// Secrets (`url`, `routing_key`, header values, `signing_secret`, `hash_key`) come from `${VAR}` or from a file
/// (`url_file`, `routing_key_file`, …); they are never printed. Unknown keys are ignored here (`config check`
/// reports them, from `AlertSettings.schema`), except in `redact:`, where a misspelt key
/// would send what it meant to withhold.
public struct AlertSettings: Sendable {
    public var routes: [AlertRoute]
    public var retry: RetryPolicy

    public init(routes: [AlertRoute] = [], retry: RetryPolicy = RetryPolicy()) {
        self.routes = routes
        self.retry = retry
    }

    /// The shortest `hash_key`.
    public static let minimumHashKeyLength = 16

    /// Every destination (`ROUTE/CHANNEL`) with its channel's settings.
    public var destinations: [(destination: String, route: AlertRoute, channel: AlertChannelSettings)] {
        routes.flatMap { route in
            route.channels.map { (destination: "\(route.name)/\($0.name)", route: route, channel: $0) }
        }
    }

    public static func load(
        pipeline: Pipeline, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(AlertError) -> AlertSettings {
        try load(pipeline: pipeline, reader: SettingsReader(settings: pipeline.settings, environment: environment) { AlertError(.settings, $0) })
    }

    public static func load(pipeline: Pipeline, reader: SettingsReader<AlertError>) throws(AlertError) -> AlertSettings {
        let section = try reader.map(["alerts"], required: false)
        var settings = AlertSettings()
        settings.retry.base = try reader.duration(section, "retry_base", path: "alerts") ?? settings.retry.base
        settings.retry.cap = try reader.duration(section, "retry_max", path: "alerts") ?? settings.retry.cap
        let hashKey = try reader.secret(section, "hash_key", path: "alerts", resolve: pipeline.resolve)
        if let hashKey, hashKey.value.utf8.count < minimumHashKeyLength {
            let at = (section?["hash_key"] ?? section?["hash_key_file"]).map { "\($0.location): " } ?? ""
            throw AlertError(
                .settings,
                "\(at)alerts.hash_key must be at least \(minimumHashKeyLength) characters (e.g. `openssl rand -hex 32`)")
        }
        for item in section?["routes"]?.items ?? [] {
            let route = try self.route(item, reader: reader, resolve: pipeline.resolve, hashKey: hashKey)
            guard !settings.routes.contains(where: { $0.name == route.name }) else {
                throw AlertError(.settings, "\(item.location): alert route \(route.name) is defined twice")
            }
            settings.routes.append(route)
        }
        if let fault = unknownRoutes(in: pipeline).first { throw AlertError(.settings, fault) }
        return settings
    }

    /// A fault for each rule's `alert:` name that `alerts.routes` does not define (no secret is read).
    public static func unknownRoutes(in pipeline: Pipeline) -> [String] {
        unknownRouteErrors(in: pipeline).map(\.description)
    }

    /// `unknownRoutes` as rule errors (with the rule's location), as a SIGHUP reload reports them.
    public static func unknownRouteErrors(in pipeline: Pipeline) -> [RuleError] {
        let names = Set((pipeline.settings["alerts"]?["routes"]?.items ?? []).compactMap { $0["name"]?.string })
        return pipeline.rules.flatMap { rule in
            rule.alert.filter { !names.contains($0) }.map {
                RuleError(
                    .schema, "rule \(rule.id) alerts route \($0), which alerts.routes does not define", at: rule.location)
            }
        }
    }

    private static func route(
        _ item: PipelineValue, reader: SettingsReader<AlertError>, resolve: (String) -> String, hashKey: Secret?
    ) throws(AlertError) -> AlertRoute {
        guard case .map = item else { throw AlertError(.settings, "\(item.location): an alert route must be a mapping") }
        guard let name = try reader.string(item, "name", path: "alerts.routes"), !name.contains("/"), !name.contains("#")
        else { throw AlertError(.settings, "\(item.location): an alert route needs a name (without / or #)") }
        let path = "alerts.routes.\(name)"
        var route = AlertRoute(name: name, channels: [])
        if let text = try reader.string(item, "min_severity", path: path) {
            guard let severity = Severity(name: text) else {
                throw AlertError(.settings, "\(item.location): \(path).min_severity must be low, medium, high or critical")
            }
            route.minSeverity = severity
        }
        route.rules = Set(try reader.strings(item, "rules", path: path))
        route.tags = Set(try reader.strings(item, "tags", path: path))
        route.window = try reader.duration(item, "window", path: path)
        let redact = try redactions(item, reader: reader, path: path)
        for channel in item["channels"]?.items ?? [] {
            var settings = try self.channel(
                channel, reader: reader, path: path, resolve: resolve, hashKey: hashKey, routeRedact: redact)
            if try reader.string(channel, "name", path: path) == nil {
                let same = route.channels.filter { $0.typeName == settings.typeName }.count
                settings.name = same == 0 ? settings.typeName : "\(settings.typeName)-\(same + 1)"
            }
            guard !route.channels.contains(where: { $0.name == settings.name }) else {
                throw AlertError(.settings, "\(channel.location): \(path) has two channels named \(settings.name)")
            }
            route.channels.append(settings)
        }
        guard !route.channels.isEmpty else { throw AlertError(.settings, "\(item.location): \(path) has no channels") }
        return route
    }

    private static func channel(
        _ item: PipelineValue, reader: SettingsReader<AlertError>, path: String, resolve: (String) -> String, hashKey: Secret?,
        routeRedact: [String: AlertRedaction.Mode]
    ) throws(AlertError) -> AlertChannelSettings {
        guard case .map = item else { throw AlertError(.settings, "\(item.location): a channel must be a mapping") }
        let type = try reader.string(item, "type", path: path) ?? ""
        let name = try reader.string(item, "name", path: path) ?? type
        guard !name.contains("/"), !name.contains("#") else {
            throw AlertError(.settings, "\(item.location): a channel name may not contain / or #")
        }
        let path = "\(path).channels.\(name)"
        func secret(_ key: String) throws(AlertError) -> Secret {
            guard let value = try reader.secret(item, key, path: path, resolve: resolve) else {
                throw AlertError(.settings, "\(item.location): \(path) needs \(key) or \(key)_file")
            }
            return value
        }
        let kind: AlertChannelSettings.Kind
        switch type {
        case "webhook":
            var headers: [(String, Secret)] = []
            if let map = item["headers"] {
                guard case .map(let pairs, _) = map else {
                    throw AlertError(.settings, "\(map.location): \(path).headers must be a mapping")
                }
                for (header, _) in pairs {
                    guard let value = try reader.secret(map, header, path: "\(path).headers", resolve: resolve) else {
                        continue
                    }
                    headers.append((header.hasSuffix("_file") ? String(header.dropLast(5)) : header, value))
                }
            }
            kind = .webhook(
                url: try secret("url"), headers: headers,
                signingSecret: try reader.secret(item, "signing_secret", path: path, resolve: resolve))
        case "slack":
            kind = .slack(url: try secret("url"))
        case "pagerduty":
            kind = .pagerDuty(
                routingKey: try secret("routing_key"),
                url: try reader.string(item, "url", path: path) ?? AlertChannelSettings.pagerDutyEventsURL,
                autoResolve: try reader.duration(item, "auto_resolve", path: path))
        case "kafka":
            guard let topic = try reader.string(item, "topic", path: path) else {
                throw AlertError(.settings, "\(item.location): \(path) needs a topic")
            }
            kind = .kafka(topic: topic)
        case "jsonl", "file":
            guard let file = try reader.string(item, "file", path: path) else {
                throw AlertError(.settings, "\(item.location): \(path) needs a file")
            }
            kind = .jsonl(path: resolve(file))
        case "stderr":
            kind = .standardError
        default:
            throw AlertError(
                .settings,
                "\(item.location): unknown channel type '\(type)' (webhook, slack, pagerduty, kafka, jsonl or stderr)")
        }
        let timeout = try reader.duration(item, "timeout", path: path) ?? .seconds(10)
        guard timeout <= AlertChannelSettings.maxTimeout else {
            throw AlertError(
                .settings,
                "\(item.location): \(path).timeout must be at most 10s "
                    + "(a third of the 30-second delivery lease)")
        }
        var maxQueue = AlertChannelSettings.defaultMaxQueue
        if let text = try reader.string(item, "max_queue", path: path) {
            guard let n = Int(text), n > 0 else {
                throw AlertError(.settings, "\(item.location): \(path).max_queue must be a positive number, not '\(text)'")
            }
            maxQueue = n
        }
        var redaction = AlertRedaction.defaults(forType: type, key: hashKey)
        for (field, mode) in routeRedact.merging(try redactions(item, reader: reader, path: path), uniquingKeysWith: { $1 }) {
            if mode == .hash, hashKey == nil {
                throw AlertError(
                    .settings,
                    "\(item.location): \(path) hashes the \(field) (redact), which needs alerts.hash_key (or hash_key_file)")
            }
            switch field {
            case "subject": redaction.subject = mode
            case "actor": redaction.actor = mode
            default: redaction.evidence = mode
            }
        }
        var proxy: AlertProxy?
        let target: String? =
            switch kind {
            case .webhook(let url, _, _), .slack(let url): url.value
            case .pagerDuty(_, let url, _): url
            default: nil
            }
        if let target {
            // A channel's own `proxy` (`none`: direct) wins over the environment's.
            if let text = try reader.string(item, "proxy", path: path) {
                proxy = text == "none" ? nil : try AlertProxy.parse(text, what: "\(item.location): \(path).proxy")
            } else {
                do {
                    proxy = try AlertProxy.fromEnvironment(for: target, environment: reader.environment)
                } catch {
                    throw AlertError(.settings, "\(item.location): \(path): \(error.message)")
                }
            }
        }
        return AlertChannelSettings(
            name: name, kind: kind, timeout: timeout, maxQueue: maxQueue, redaction: redaction, proxy: proxy)
    }

    /// The `redact:` mapping of a route or channel: `subject` and `actor` each `keep`, `hash` or `drop`, `evidence`
    /// `keep` or `drop`.
    private static func redactions(
        _ item: PipelineValue, reader: SettingsReader<AlertError>, path: String
    ) throws(AlertError) -> [String: AlertRedaction.Mode] {
        guard let value = item["redact"] else { return [:] }
        guard case .map(let pairs, _) = value else {
            throw AlertError(.settings, "\(value.location): \(path).redact must be a mapping such as {subject: hash, evidence: drop}")
        }
        var out: [String: AlertRedaction.Mode] = [:]
        for (key, _) in pairs {
            guard AlertRedaction.keys.contains(key) else {
                throw AlertError(.settings, "\(value.location): \(path).redact has no key \(key) (subject, actor or evidence)")
            }
            let text = try reader.string(value, key, path: "\(path).redact") ?? ""
            let allowed: [AlertRedaction.Mode] = key == "evidence" ? [.keep, .drop] : [.keep, .hash, .drop]
            guard let mode = AlertRedaction.Mode(rawValue: text), allowed.contains(mode) else {
                throw AlertError(
                    .settings,
                    "\(value.location): \(path).redact.\(key) must be \(allowed.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            out[key] = mode
        }
        return out
    }
}

extension SettingsReader {
    /// `KEY` (with `${VAR}` expanded) or `KEY_file` (a file holding the value; surrounding white space is dropped).
    /// Messages name the key or the file, never the value.
    public func secret(
        _ map: PipelineValue?, _ key: String, path: String, resolve: (String) -> String
    ) throws(Failure) -> Secret? {
        try secretText(map, key, path: path, resolve: resolve).map(Secret.init)
    }
}
