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

/// The durable alert queue of a state store. Alerts are queued in the batch transaction (`BatchCommit.alerts`) and
/// delivered by one loop per destination, so a channel that is down delays only its own alerts.
public protocol AlertQueue: Sendable {
    /// Alerts of `destination` neither delivered nor rejected, oldest first, whatever their `notBefore`.
    func pendingAlerts(destination: String, limit: Int) async throws(StorageError) -> [QueuedAlert]

    /// Queues alerts outside a batch (insert-or-ignore by id).
    func enqueueAlerts(_ rows: [AlertRow]) async throws(StorageError)

    /// Marks alerts delivered. They stay (so that their ids are still ignored) until `pruneDeliveredAlerts`.
    func markAlertsDelivered(_ ids: [String]) async throws(StorageError)

    /// Counts a failed attempt and holds the alerts back until `until`.
    func deferAlerts(_ ids: [String], until: Date, error: String) async throws(StorageError)

    /// Sets alerts aside that the channel refused for good (kept, with the reason, and no longer pending).
    func rejectAlerts(_ ids: [String], error: String) async throws(StorageError)

    /// Pending alerts by destination.
    func alertDepths() async throws(StorageError) -> [String: Int]

    /// Removes alerts delivered before `date`; returns how many.
    @discardableResult
    func pruneDeliveredAlerts(before date: Date) async throws(StorageError) -> Int

    /// Takes or renews the lease `name` for `owner` until `seconds` from now; false while another owner holds it.
    /// One instance at a time delivers a destination's alerts. `seconds: 0` gives up a lease the owner holds.
    func acquireLease(_ name: String, owner: String, seconds: Int) async throws(StorageError) -> Bool
}
