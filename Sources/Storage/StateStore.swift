import struct Foundation.Date
import Synchronization

/// The durable state of the engine, store-agnostic: per-partition keyed state and input offsets, an outbox of
/// outputs still to publish, and a small global key/value space. Values are opaque bytes: the store never looks
/// inside the engine's state.
///
/// Partition state and offsets belong to a pipeline (`pipeline:` below) and to one Kafka partition, so that whichever
/// instance owns a partition can load it. The outbox and the global key/value space are shared by every pipeline of
/// the store: put the pipeline's name in a global namespace when several pipelines share one store.

/// A Kafka topic partition.
public struct PartitionID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: PartitionID, rhs: PartitionID) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// One entry of keyed state. In a commit, a `nil` value deletes the entry.
public struct StateRow: Sendable, Hashable {
    public var namespace: String
    public var key: String
    public var value: [UInt8]?

    public init(namespace: String, key: String, value: [UInt8]?) {
        self.namespace = namespace
        self.key = key
        self.value = value
    }
}

/// A Kafka record header of an outbox row (mirrors `Kafka.KafkaHeader`: a `nil` value is not an empty one).
public struct OutboxHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// An output waiting to be published. `id` is deterministic (a violation's id, say): a second row with an id the
/// outbox already holds, sent or not, is ignored.
public struct OutboxRow: Sendable, Hashable {
    public var id: String
    /// `violation`, `dead_letter`, `digest`, `alert`, …
    public var kind: String
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [OutboxHeader]

    public init(id: String, kind: String, topic: String, key: [UInt8]?, value: [UInt8], headers: [OutboxHeader] = []) {
        self.id = id
        self.kind = kind
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// An outbox row as the store holds it: `seq` is its place in the outbox (commit order), by which it is marked sent.
public struct StoredOutboxRow: Sendable, Hashable {
    public var seq: Int64
    public var row: OutboxRow

    public init(seq: Int64, row: OutboxRow) {
        self.seq = seq
        self.row = row
    }

    public var id: String { row.id }
}

/// What `claim` found: the next input offset to read (`nil` when nothing was stored yet), the owner's epoch, and the
/// partition's state (sorted by namespace, then key, in byte order).
public struct PartitionClaim: Sendable, Hashable {
    public var partition: PartitionID
    public var nextOffset: Int64?
    public var epoch: Int64
    public var state: [StateRow]

    public init(partition: PartitionID, nextOffset: Int64?, epoch: Int64, state: [StateRow]) {
        self.partition = partition
        self.nextOffset = nextOffset
        self.epoch = epoch
        self.state = state
    }
}

/// The fence and the new offset of one partition in a commit.
public struct PartitionCommit: Sendable, Hashable {
    /// The offset this owner last loaded or committed (`PartitionClaim.nextOffset`, then each commit's `nextOffset`).
    public var expectedOffset: Int64?
    /// The epoch `claim` returned.
    public var epoch: Int64
    /// The next input offset to read once this batch is committed.
    public var nextOffset: Int64

    public init(expectedOffset: Int64?, epoch: Int64, nextOffset: Int64) {
        self.expectedOffset = expectedOffset
        self.epoch = epoch
        self.nextOffset = nextOffset
    }
}

/// Everything one batch changes, written in one transaction.
public struct BatchCommit: Sendable {
    public var claims: [PartitionID: PartitionCommit]
    /// State changes by partition; every partition here must also be in `claims` (its fence).
    /// Within a partition, a later row for the same namespace and key wins.
    public var state: [PartitionID: [StateRow]]
    /// Inserted or ignored by id, in this order.
    public var outbox: [OutboxRow]
    /// Changes to the global key/value space (a later row for the same namespace and key wins).
    public var global: [StateRow]
    /// Alerts to queue, inserted or ignored by id, in this order.
    public var alerts: [AlertRow]

    public init(
        claims: [PartitionID: PartitionCommit] = [:], state: [PartitionID: [StateRow]] = [:],
        outbox: [OutboxRow] = [], global: [StateRow] = [], alerts: [AlertRow] = []
    ) {
        self.claims = claims
        self.state = state
        self.outbox = outbox
        self.global = global
        self.alerts = alerts
    }
}

/// The way from this process's commits to its outbox publisher. A commit wakes the publisher; once a publisher has
/// registered (`accept`), a commit also stores its new outbox rows leased to the publisher's hand-over owner and hands
/// them over here, so that the publisher sends them without a lease transaction of its own. The hand-over owner is
/// not the owner of the publisher's lease rounds, so a lease round never takes a row handed over (until its lease
/// ends): a row is published once whichever way it came.
/// One waiter at a time (the outbox publisher).
public final class OutboxSignal: Sendable {
    /// A hand-over's lease: the owner the rows are stored under, for how long, and how many rows may wait in memory.
    public struct HandOver: Sendable, Equatable {
        public var owner: String
        public var lease: Duration
        public var capacity: Int

        public init(owner: String, lease: Duration, capacity: Int) {
            self.owner = owner
            self.lease = lease
            self.capacity = capacity
        }
    }

    /// Rows a commit handed over, and when.
    public struct HandedOver: Sendable {
        public var rows: [StoredOutboxRow]
        public var at: ContinuousClock.Instant
    }

    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The current wait is over (timed out): a waiter that registers late returns at once.
        var over = false
        var handOver: HandOver?
        var handed: [HandedOver] = []
        var handedRows = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Starts handing over: commits from now on store their rows leased to `handOver.owner`, while fewer than
    /// `handOver.capacity` rows wait here (beyond that, rows are stored free, for lease rounds).
    public func accept(_ handOver: HandOver) {
        state.withLock { $0.handOver = handOver }
    }

    /// Stops handing over (the publisher is leaving); returns what was handed over and not taken.
    @discardableResult
    public func refuse() -> [HandedOver] {
        state.withLock { s in
            s.handOver = nil
            defer { s.handed = []; s.handedRows = 0 }
            return s.handed
        }
    }

    /// The lease a commit should store its outbox rows under, or nil to store them free.
    public var handOverLease: HandOver? {
        state.withLock { s in s.handOver.flatMap { s.handedRows < $0.capacity ? $0 : nil } }
    }

    /// Called by a store once a commit that stored rows under `lease` is durable: `rows` are those it inserted
    /// (an id the outbox held already is not among them), `since` a time before the transaction began (their lease
    /// ends no sooner than `since` + the lease). Rows for a publisher that has refused since are not kept: they wait
    /// out their lease in the store.
    public func handOver(_ rows: [StoredOutboxRow], under lease: HandOver, since: ContinuousClock.Instant) {
        guard !rows.isEmpty else { return }
        state.withLock { s in
            guard s.handOver?.owner == lease.owner else { return }
            s.handed.append(HandedOver(rows: rows, at: since))
            s.handedRows += rows.count
        }
    }

    /// The rows handed over since the last call, oldest first.
    public func takeHandedOver() -> [HandedOver] {
        state.withLock { s in
            defer { s.handed = []; s.handedRows = 0 }
            return s.handed
        }
    }

    public func notify() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Whether rows were committed since the last call.
    public func take() -> Bool {
        state.withLock { s in
            defer { s.pending = false }
            return s.pending
        }
    }

    /// Waits until rows are committed (or were since the last wait) or `timeout` passes.
    public func wait(timeout: Duration) async {
        state.withLock { $0.over = false }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.arrival() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.over = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }

    private func arrival() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.pending {
                    s.pending = false
                    return true
                }
                if s.over { return true }
                s.waiter = c
                return false
            }
            if now { c.resume() }
        }
    }
}

public protocol StateStore: AlertQueue, Sendable {
    /// Notified by this process's commits that store outbox rows (other instances' rows are found by polling).
    var outboxSignal: OutboxSignal { get }

    /// Takes ownership of a partition: bumps its epoch (fencing out older owners) and returns its stored offset and
    /// state.
    func claim(_ partition: PartitionID, pipeline: String) async throws(StorageError) -> PartitionClaim

    /// One transaction: state upserts and deletes, the next input offset of each partition, outbox rows
    /// (insert-or-ignore by id), global rows. Fenced: fails with code `.fenced`, and changes nothing, if any
    /// partition's stored epoch differs from the claim's or its stored offset differs from `expectedOffset`. Outbox
    /// rows go to `outboxSignal`: stored under its hand-over lease when it has one, and the rows inserted handed over
    /// once the transaction is durable.
    func commit(_ batch: BatchCommit, pipeline: String) async throws(StorageError)

    /// Rows not yet marked sent, oldest first (whoever holds them).
    func unsentOutbox(limit: Int) async throws(StorageError) -> [OutboxRow]

    /// Rows not yet marked sent that no other owner holds, oldest first, now held by `owner` for `duration`:
    /// several instances sharing a store each publish different rows. A hold ends when it expires (its owner died
    /// or stalled: another instance then takes the rows) or when the rows are marked sent; `owner` may take its own
    /// rows again at any time.
    func leaseOutbox(limit: Int, owner: String, for duration: Duration) async throws(StorageError) -> [StoredOutboxRow]

    /// Marks rows sent (from delivery reports). Unknown ids are ignored. Sent rows stay, so that a re-inserted id is
    /// still ignored, until `pruneSent` removes them.
    func markSent(_ ids: [String]) async throws(StorageError)

    /// Marks rows sent by their `seq` (a look-up of the table's key instead of the id's index). Unknown ones are
    /// ignored.
    func markSent(seqs: [Int64]) async throws(StorageError)

    /// The number of unsent outbox rows.
    func outboxDepth() async throws(StorageError) -> Int

    /// Removes rows marked sent before `date`; returns how many. After that, their ids are no longer de-duplicated.
    @discardableResult
    func pruneSent(before date: Date) async throws(StorageError) -> Int

    /// The global rows of a namespace, sorted by key.
    func loadGlobal(namespace: String) async throws(StorageError) -> [StateRow]

    /// One global row's value, or nil when there is none.
    func loadGlobal(namespace: String, key: String) async throws(StorageError) -> [UInt8]?

    /// The global rows of a namespace whose key sorts before `key` (byte order), sorted by key, at most `limit`.
    func loadGlobal(namespace: String, before key: String, limit: Int) async throws(StorageError) -> [StateRow]

    /// The global rows of a namespace whose key sorts after `key` (byte order; every row when nil), sorted by key, at
    /// most `limit`: a namespace read page by page, for one too large to hold at once.
    func loadGlobal(namespace: String, after key: String?, limit: Int) async throws(StorageError) -> [StateRow]

    func close() async
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var timeInterval: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Whole milliseconds, as PostgreSQL intervals are written here.
    var wholeMilliseconds: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }
}
