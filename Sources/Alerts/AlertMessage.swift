import Events

/// What a channel sends: one violation, or a group of violations of one rule and actor (or subject) that arrived
/// within a route's window, summarised by their count, first and last times and a sample; or a PagerDuty resolve.
public struct AlertMessage: Sendable, Hashable {
    public enum Action: String, Sendable { case trigger, resolve }

    public var route: String
    public var action: Action
    /// The first violation of the message: its id is the message's `dedup_key`.
    public var sample: AlertViolation
    public var count: Int
    /// The earliest and latest event times of the message's violations.
    public var first: Timestamp
    public var last: Timestamp
    /// The ids of every violation in the message, in the order they were found.
    public var violationIDs: [String]

    public init(route: String, action: Action = .trigger, violations: [AlertViolation]) {
        precondition(!violations.isEmpty, "a message has at least one violation")
        self.route = route
        self.action = action
        sample = violations[0]
        count = violations.count
        first = violations.map(\.time).min()!
        last = violations.map(\.time).max()!
        violationIDs = violations.map(\.id)
    }

    /// The id a receiver de-duplicates by: the sample violation's id.
    public var id: String { sample.id }
    public var isGroup: Bool { count > 1 }

    /// The message in one plain sentence.
    public var summary: String {
        let who = sample.actor.map { "actor \($0)" } ?? (sample.subject.isEmpty ? "a subject" : "subject \(sample.subject)")
        switch (action, isGroup) {
        case (.resolve, _): return "Resolved: \(sample.rule) for \(who)"
        case (.trigger, false): return "[\(sample.severity)] \(sample.rule): \(sample.message)"
        case (.trigger, true):
            return "[\(sample.severity)] \(sample.rule): \(count) violations by \(who) between "
                + "\(first.rfc3339) and \(last.rfc3339); for example: \(sample.message)"
        }
    }
}
