import Events
import Foundation
import Kafka

/// `consentinel alerts test`: one synthetic alert, clearly marked (rule `consentinel.test`, subject `test-subject`),
/// through each channel of a route, redacted, signed and proxied as the channel's settings say. One attempt a
/// channel, no store, no retries.
public enum TestAlert {
    public static let rule = "consentinel.test"
    public static let subject = "test-subject"

    /// What became of the test alert on one channel.
    public struct Result: Sendable {
        public var destination: String
        /// The channel's type and how it sends (`slack, via proxy proxy.internal:3128`).
        public var how: String
        public var outcome: DeliveryOutcome
        public var delivered: Bool { outcome == .delivered }
    }

    /// What a channel would send.
    public struct Preview: Sendable {
        public var destination: String
        /// The channel's type and how it sends (`slack, via proxy proxy.internal:3128`).
        public var how: String
        /// With secrets (a PagerDuty routing key) as `***`.
        public var payload: JSONValue
    }

    /// The route named `name`; an error listing the routes otherwise.
    public static func route(_ name: String, in settings: AlertSettings) throws(AlertError) -> AlertRoute {
        guard let route = settings.routes.first(where: { $0.name == name }) else {
            let names = settings.routes.map(\.name)
            throw AlertError(
                .settings,
                "no alert route named \(name); "
                    + (names.isEmpty ? "alerts.routes defines none" : "routes: \(names.joined(separator: ", "))"))
        }
        return route
    }

    /// The test violation, for `route`, at `time`.
    public static func violation(route: String, at time: Date = Date()) -> AlertViolation {
        let now = Timestamp(microseconds: Int64(time.timeIntervalSince1970 * 1_000_000))
        let json: JSONValue = .object([
            // An id and kind as a real violation's, so that a receiver checking the schema takes it.
            ("id", .string(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))),
            ("rule", .string(rule)), ("kind", "match"), ("reason", "test_alert"), ("severity", "low"),
            ("time", .string(now.rfc3339)),
            ("subject", .string(subject)), ("actor", "consentinel-test"), ("event", "consentinel-test"),
            ("detected_at", .string(now.rfc3339)),
            ("message", .string("Test alert sent by `consentinel alerts test` to route \(route): no rule was broken.")),
            ("evidence", .object([("test", true), ("sent_by", "consentinel alerts test")])),
        ])
        // The document is well-formed by construction.
        return try! AlertViolation(json: json)
    }

    public static func message(route: AlertRoute) -> AlertMessage {
        AlertMessage(route: route.name, violations: [violation(route: route.name)])
    }

    /// Sends the test alert through every channel of `route` at once; results in the route's channel order.
    public static func send(route: AlertRoute, producer: Producer? = nil) async -> [Result] {
        let message = message(route: route)
        return await withTaskGroup(of: (Int, Result).self) { group in
            for (index, settings) in route.channels.enumerated() {
                let (destination, how) = ("\(route.name)/\(settings.name)", how(settings))
                group.addTask {
                    do {
                        let channel = try AlertDispatcher.makeChannel(settings, producer: producer)
                        return (index, Result(destination: destination, how: how, outcome: await channel.deliver(message)))
                    } catch {
                        return (index, Result(destination: destination, how: how, outcome: .rejected(reason: "\(error)")))
                    }
                }
            }
            var results: [(Int, Result)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// What each channel of `route` would send for the test alert.
    public static func previews(route: AlertRoute) -> [Preview] {
        let message = message(route: route)
        return route.channels.map { settings in
            let payload = HTTPAlertChannel(settings)?.printableBody(message)
                ?? AlertPayload.webhook(settings.redaction.apply(message))
            return Preview(destination: "\(route.name)/\(settings.name)", how: how(settings), payload: payload)
        }
    }

    private static func how(_ settings: AlertChannelSettings) -> String {
        var how = [settings.typeName]
        if case .webhook(_, _, _?) = settings.kind { how.append("signed") }
        if HTTPAlertChannel(settings) != nil { how.append(settings.proxy.map { "via proxy \($0)" } ?? "direct") }
        return how.joined(separator: ", ")
    }
}
