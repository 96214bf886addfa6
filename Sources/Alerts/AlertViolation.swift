import Events
import Foundation
import Rules

/// A violation as an alert carries it: the fields messages are made of, and the whole violation as JSON.
public struct AlertViolation: Sendable, Hashable {
    public var id: String
    public var rule: String
    public var kind: String
    public var reason: String
    public var severity: String
    public var time: Timestamp
    public var subject: String
    public var actor: String?
    public var message: String
    public var json: JSONValue

    public init(_ violation: Violation) {
        id = violation.id
        rule = violation.rule
        kind = violation.kind.rawValue
        reason = violation.reason
        severity = violation.severity.name
        time = violation.time
        subject = violation.subject
        actor = violation.actor
        message = violation.message
        json = violation.json
    }

    /// Reads back a violation's JSON (docs/schemas/violation.schema.json) as the alert queue stores it.
    public init(json value: JSONValue) throws(AlertError) {
        guard case .object = value,
            case .string(let id)? = value["id"], case .string(let rule)? = value["rule"],
            case .string(let severity)? = value["severity"], case .string(let timeText)? = value["time"],
            case .string(let subject)? = value["subject"],
            let time = Timestamp(rfc3339: timeText)
        else { throw AlertError(.corrupt, "a queued alert is not a violation") }
        self.id = id
        self.rule = rule
        self.severity = severity
        self.time = time
        self.subject = subject
        if case .string(let kind)? = value["kind"] { self.kind = kind } else { kind = "" }
        if case .string(let reason)? = value["reason"] { self.reason = reason } else { reason = "" }
        if case .string(let actor)? = value["actor"] { self.actor = actor } else { actor = nil }
        if case .string(let message)? = value["message"] { self.message = message } else { message = "" }
        json = value
    }

    /// Alerts of one group may be sent as one message: the same rule and actor, or subject when there is no actor.
    public var group: String { Self.group(rule: rule, actor: actor, subject: subject) }

    public static func group(rule: String, actor: String?, subject: String) -> String {
        actor.map { "\(rule)|actor:\($0)" } ?? "\(rule)|subject:\(subject)"
    }
}
