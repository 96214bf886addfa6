import Foundation

/// Groups pending alerts of one destination into messages.
///
/// Without a window, each alert is a message of its own. With a window, alerts of one group (same rule and actor, or
/// subject) form one message: the group opens at its earliest pending alert and takes every alert of the group up to
/// a window later; the message is due once the clock has passed the window's end. Alerts after the window open the
/// next group. The clock is the daemon's wall clock (when an alert was queued) or, in a replay, event time.
public struct AlertAggregator: Sendable {
    /// A pending alert: its queue id, group, time on the aggregation clock, and when it may be sent at the earliest.
    public struct Pending: Sendable {
        public var id: String
        public var group: String
        public var at: Date
        public var notBefore: Date?
        public var violation: AlertViolation

        public init(id: String, group: String, at: Date, notBefore: Date? = nil, violation: AlertViolation) {
            self.id = id
            self.group = group
            self.at = at
            self.notBefore = notBefore
            self.violation = violation
        }
    }

    /// A message and the queue ids it delivers.
    public struct Bundle: Sendable {
        public var ids: [String]
        public var violations: [AlertViolation]
        public var group: String
    }

    public var window: Swift.Duration?

    public init(window: Swift.Duration?) { self.window = window }

    /// The messages due at `now`, in the order of their first alerts; alerts of groups still open stay pending.
    public func due(_ pending: [Pending], now: Date) -> [Bundle] {
        guard let window, window > .zero else {
            return pending.filter { ($0.notBefore ?? .distantPast) <= now }.map {
                Bundle(ids: [$0.id], violations: [$0.violation], group: $0.group)
            }
        }
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        var order: [String] = []
        var byGroup: [String: [Pending]] = [:]
        for alert in pending {
            if byGroup[alert.group] == nil { order.append(alert.group) }
            byGroup[alert.group, default: []].append(alert)
        }
        var bundles: [Bundle] = []
        for group in order {
            let alerts = byGroup[group]!
            guard let start = alerts.map(\.at).min() else { continue }
            let end = start.addingTimeInterval(seconds)
            let inWindow = alerts.filter { $0.at < end }
            guard now >= end, inWindow.allSatisfy({ ($0.notBefore ?? .distantPast) <= now }) else { continue }
            bundles.append(Bundle(ids: inWindow.map(\.id), violations: inWindow.map(\.violation), group: group))
        }
        return bundles
    }

    /// Every alert in messages, as if the clock had passed every window (the end of a replay).
    public func all(_ pending: [Pending]) -> [Bundle] {
        var rest = pending
        var bundles: [Bundle] = []
        while !rest.isEmpty {
            let due = self.due(rest, now: .distantFuture)
            let sent = Set(due.flatMap(\.ids))
            bundles += due
            rest.removeAll { sent.contains($0.id) }
        }
        return bundles
    }
}
