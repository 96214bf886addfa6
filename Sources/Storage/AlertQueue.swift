import struct Foundation.Date

/// An alert waiting for one channel of one route. `id` is deterministic (`ROUTE/CHANNEL#VIOLATION-ID`): a second row
/// with an id the queue holds, delivered or not, is ignored, so an alert is queued once per violation and channel.
public struct AlertRow: Sendable, Hashable {
    public var id: String
    /// `ROUTE/CHANNEL`: one delivery loop a destination.
    public var destination: String
    /// Alerts of one group (rule and actor, or subject) may be delivered as one message.
    public var group: String
    /// The alert's content (the violation as JSON, or a resolve request).
    public var value: [UInt8]
    /// Not delivered before this time (`nil`: at once).
    public var notBefore: Date?

    public init(id: String, destination: String, group: String, value: [UInt8], notBefore: Date? = nil) {
        self.id = id
        self.destination = destination
        self.group = group
        self.value = value
        self.notBefore = notBefore
    }
}

/// An alert as the queue holds it: when it was queued and how often its delivery failed so far.
public struct QueuedAlert: Sendable, Hashable {
    public var row: AlertRow
    public var queuedAt: Date
    public var attempts: Int

    public init(row: AlertRow, queuedAt: Date, attempts: Int) {
        self.row = row
        self.queuedAt = queuedAt
        self.attempts = attempts
    }
}

/// Alerts set aside because their channel's queue was full (`setAsideAlerts`) and not yet reported through the
/// channel: how many, when the first and last were set aside, and the last one's sequence number.
public struct SetAsideSummary: Sendable, Hashable {
    public var count: Int
    public var first: Date
    public var last: Date
    public var lastSeq: Int64

    public init(count: Int, first: Date, last: Date, lastSeq: Int64) {
        self.count = count
        self.first = first
        self.last = last
        self.lastSeq = lastSeq
    }
}

/// The durable alert queue of a state store. Alerts are queued in the batch transaction (`BatchCommit.alerts`) and
/// delivered by one loop per destination, so a channel that is down delays only its own alerts.
///
/// An alert is *pending* while it is neither delivered, rejected nor set aside.
public protocol AlertQueue: Sendable {
    /// Pending alerts of `destination` that are due at `now` (no `notBefore`, or one not after `now`), oldest first.
    /// Alerts held back (a retry's backoff, a PagerDuty resolve hours ahead) never hide due ones.
    func pendingAlerts(destination: String, limit: Int, now: Date) async throws(StorageError) -> [QueuedAlert]

    /// Queues alerts outside a batch (insert-or-ignore by id), queued at `at` (the daemon's clock).
    func enqueueAlerts(_ rows: [AlertRow], at: Date) async throws(StorageError)

    /// Marks alerts delivered. They stay (so that their ids are still ignored) until `pruneDeliveredAlerts`.
    func markAlertsDelivered(_ ids: [String]) async throws(StorageError)

    /// Counts a failed attempt and holds the alerts back until `until`.
    func deferAlerts(_ ids: [String], until: Date, error: String) async throws(StorageError)

    /// Marks alerts refused for good by the channel (kept, with the reason, and no longer pending).
    func rejectAlerts(_ ids: [String], error: String) async throws(StorageError)

    /// Pending alerts by destination, at `now`: PagerDuty resolves not yet due are not counted.
    func alertDepths(now: Date) async throws(StorageError) -> [String: Int]

    /// Keeps the oldest `keep` pending alerts of `destination` (resolves aside) and sets the rest aside at `at`:
    /// they stay in the store (`set_aside_at`), are no longer pending, and are reported by `setAsideSummary`.
    /// Returns how many were set aside.
    @discardableResult
    func setAsideAlerts(destination: String, keep: Int, at: Date) async throws(StorageError) -> Int

    /// The alerts of `destination` set aside and not yet reported; `nil` when there are none.
    func setAsideSummary(destination: String) async throws(StorageError) -> SetAsideSummary?

    /// Marks the set-aside alerts of `destination` up to `lastSeq` reported (their summary was delivered).
    func markSetAsideReported(destination: String, through lastSeq: Int64) async throws(StorageError)

    /// Removes alerts delivered before `date`; returns how many.
    @discardableResult
    func pruneDeliveredAlerts(before date: Date) async throws(StorageError) -> Int

    /// Takes or renews the lease `name` for `owner` until `seconds` from now; false while another owner holds it.
    /// One instance at a time delivers a destination's alerts. `seconds: 0` gives up a lease the owner holds.
    func acquireLease(_ name: String, owner: String, seconds: Int) async throws(StorageError) -> Bool
}

extension AlertQueue {
    public func pendingAlerts(destination: String, limit: Int) async throws(StorageError) -> [QueuedAlert] {
        try await pendingAlerts(destination: destination, limit: limit, now: Date())
    }

    public func enqueueAlerts(_ rows: [AlertRow]) async throws(StorageError) {
        try await enqueueAlerts(rows, at: Date())
    }

    public func alertDepths() async throws(StorageError) -> [String: Int] {
        try await alertDepths(now: Date())
    }
}

/// The group-key prefix of PagerDuty resolves (`AlertDispatcher`): they are queued by the dispatcher itself, hours
/// ahead, and neither count towards a channel's bound nor are set aside.
public let alertResolvePrefix = "resolve:"
