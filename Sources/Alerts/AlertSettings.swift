import Events
import Foundation
import Rules

/// The `alerts:` section of `pipeline.yaml`: routes with their channels, and the retry policy of deliveries.
/// Secrets (`url`, `routing_key`, header values) come from `${VAR}` or from a file (`url_file`, `routing_key_file`,
/// …); they are never printed.
public struct AlertSettings: Sendable {
    public var routes: [AlertRoute]
    public var retry: RetryPolicy

    public init(routes: [AlertRoute] = [], retry: RetryPolicy = RetryPolicy()) {
        self.routes = routes
        self.retry = retry
    }

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
        for item in section?["routes"]?.items ?? [] {
            let route = try self.route(item, reader: reader, directory: pipeline.directory)
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

    private static func route(_ item: PipelineValue, reader: SettingsReader<AlertError>, directory: String) throws(AlertError) -> AlertRoute {
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
        for channel in item["channels"]?.items ?? [] {
            var settings = try self.channel(channel, reader: reader, path: path, directory: directory)
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
        _ item: PipelineValue, reader: SettingsReader<AlertError>, path: String, directory: String
    ) throws(AlertError) -> AlertChannelSettings {
        guard case .map = item else { throw AlertError(.settings, "\(item.location): a channel must be a mapping") }
        let type = try reader.string(item, "type", path: path) ?? ""
        let name = try reader.string(item, "name", path: path) ?? type
        guard !name.contains("/"), !name.contains("#") else {
            throw AlertError(.settings, "\(item.location): a channel name may not contain / or #")
        }
        let path = "\(path).channels.\(name)"
        func resolve(_ file: String) -> String {
            file.hasPrefix("/") ? file : URL(fileURLWithPath: directory).appendingPathComponent(file).path
        }
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
            kind = .webhook(url: try secret("url"), headers: headers)
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
        return AlertChannelSettings(name: name, kind: kind, timeout: timeout, maxQueue: maxQueue)
    }
}

extension SettingsReader {
    /// `KEY` (with `${VAR}` expanded) or `KEY_file` (a file holding the value; surrounding white space is dropped).
    /// Messages name the key or the file, never the value.
    public func secret(
        _ map: PipelineValue?, _ key: String, path: String, resolve: (String) -> String
    ) throws(Failure) -> Secret? {
        let base = key.hasSuffix("_file") ? String(key.dropLast(5)) : key
        if let value = try string(map, base, path: path) { return Secret(value) }
        guard let file = try string(map, base + "_file", path: path).map(resolve) else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw fail("\(path).\(base)_file: cannot read \(file)")
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw fail("\(path).\(base)_file: \(file) is empty") }
        return Secret(value)
    }
}
