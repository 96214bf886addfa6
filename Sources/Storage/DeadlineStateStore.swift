import Foundation
import Synchronization

/// A store whose every call answers within `deadline`: a call that has not answered by then fails with `.connection`
/// and is cancelled and left to end by itself. Seen with PostgreSQL: a batch commit in flight when the server
/// restarted never returned, although the server was back and new calls succeeded. A write that lands after its
/// deadline is harmless: the next owner's claim raises the epoch, so a late commit of an old owner is fenced.
public struct DeadlineStateStore: StateStore {
    public let base: any StateStore
    public let deadline: Duration

    public init(_ base: any StateStore, deadline: Duration) {
        self.base = base
        self.deadline = deadline
    }

    /// Runs `body` in a task of its own, racing the deadline.
    func within<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable () async throws(StorageError) -> T
    ) async throws(StorageError) -> T {
        let deadline = deadline
        let tasks = Mutex<(work: Task<Void, Never>?, timer: Task<Void, Never>?, done: Bool)>((nil, nil, false))
        let result: Result<T, StorageError> = await withCheckedContinuation { continuation in
            let finish: @Sendable (Result<T, StorageError>) -> Void = { result in
                let first = tasks.withLock { t in
                    defer { t.done = true }
                    if !t.done { t.timer?.cancel() }
                    return !t.done
                }
                if first { continuation.resume(returning: result) }
            }
            let work = Task {
                do throws(StorageError) { finish(.success(try await body())) } catch { finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: deadline)
                guard !Task.isCancelled else { return }
                work.cancel()
                finish(.failure(StorageError(.connection, "the state store did not answer \(what) within \(deadline)")))
            }
            tasks.withLock { t in
                t.work = work
                t.timer = timer
                if t.done { timer.cancel() }
            }
        }
        return try result.get()
    }

    public var outboxSignal: OutboxSignal { base.outboxSignal }

    public func claim(_ partition: PartitionID, pipeline: String) async throws(StorageError) -> PartitionClaim {
        try await within("a claim") { [base] () throws(StorageError) in try await base.claim(partition, pipeline: pipeline) }
    }

    public func commit(_ batch: BatchCommit, pipeline: String) async throws(StorageError) {
        try await within("a commit") { [base] () throws(StorageError) in try await base.commit(batch, pipeline: pipeline) }
    }

    public func unsentOutbox(limit: Int) async throws(StorageError) -> [OutboxRow] {
        try await within("an outbox read") { [base] () throws(StorageError) in try await base.unsentOutbox(limit: limit) }
    }

    public func leaseOutbox(limit: Int, owner: String, for duration: Duration) async throws(StorageError) -> [StoredOutboxRow] {
        try await within("an outbox lease") { [base] () throws(StorageError) in
            try await base.leaseOutbox(limit: limit, owner: owner, for: duration)
        }
    }

    public func markSent(_ ids: [String]) async throws(StorageError) {
        try await within("marking outputs sent") { [base] () throws(StorageError) in try await base.markSent(ids) }
    }

    public func markSent(seqs: [Int64]) async throws(StorageError) {
        try await within("marking outputs sent") { [base] () throws(StorageError) in try await base.markSent(seqs: seqs) }
    }

    public func outboxDepth() async throws(StorageError) -> Int {
        try await within("counting the outbox") { [base] () throws(StorageError) in try await base.outboxDepth() }
    }

    @discardableResult
    public func pruneSent(before date: Date) async throws(StorageError) -> Int {
        try await within("pruning the outbox") { [base] () throws(StorageError) in try await base.pruneSent(before: date) }
    }

    public func loadGlobal(namespace: String) async throws(StorageError) -> [StateRow] {
        try await within("a read") { [base] () throws(StorageError) in try await base.loadGlobal(namespace: namespace) }
    }

    public func loadGlobal(namespace: String, key: String) async throws(StorageError) -> [UInt8]? {
        try await within("a read") { [base] () throws(StorageError) in try await base.loadGlobal(namespace: namespace, key: key) }
    }

    public func loadGlobal(namespace: String, before key: String, limit: Int) async throws(StorageError) -> [StateRow] {
        try await within("a read") { [base] () throws(StorageError) in
            try await base.loadGlobal(namespace: namespace, before: key, limit: limit)
        }
    }

    public func loadGlobal(namespace: String, after key: String?, limit: Int) async throws(StorageError) -> [StateRow] {
        try await within("a read") { [base] () throws(StorageError) in
            try await base.loadGlobal(namespace: namespace, after: key, limit: limit)
        }
    }

    public func close() async { await base.close() }

    public func pendingAlerts(destination: String, limit: Int, now: Date) async throws(StorageError) -> [QueuedAlert] {
        try await within("an alert read") { [base] () throws(StorageError) in
            try await base.pendingAlerts(destination: destination, limit: limit, now: now)
        }
    }

    public func enqueueAlerts(_ rows: [AlertRow], at: Date) async throws(StorageError) {
        try await within("queueing alerts") { [base] () throws(StorageError) in try await base.enqueueAlerts(rows, at: at) }
    }

    public func markAlertsDelivered(_ ids: [String]) async throws(StorageError) {
        try await within("marking alerts delivered") { [base] () throws(StorageError) in try await base.markAlertsDelivered(ids) }
    }

    public func deferAlerts(_ ids: [String], until: Date, error: String) async throws(StorageError) {
        try await within("deferring alerts") { [base] () throws(StorageError) in
            try await base.deferAlerts(ids, until: until, error: error)
        }
    }

    public func rejectAlerts(_ ids: [String], error: String) async throws(StorageError) {
        try await within("rejecting alerts") { [base] () throws(StorageError) in try await base.rejectAlerts(ids, error: error) }
    }

    public func alertDepths(now: Date) async throws(StorageError) -> [String: Int] {
        try await within("counting alerts") { [base] () throws(StorageError) in try await base.alertDepths(now: now) }
    }

    @discardableResult
    public func setAsideAlerts(destination: String, keep: Int, at: Date) async throws(StorageError) -> Int {
        try await within("setting alerts aside") { [base] () throws(StorageError) in
            try await base.setAsideAlerts(destination: destination, keep: keep, at: at)
        }
    }

    public func setAsideSummary(destination: String) async throws(StorageError) -> SetAsideSummary? {
        try await within("reading set-aside alerts") { [base] () throws(StorageError) in
            try await base.setAsideSummary(destination: destination)
        }
    }

    public func markSetAsideReported(destination: String, through lastSeq: Int64) async throws(StorageError) {
        try await within("marking set-aside alerts reported") { [base] () throws(StorageError) in
            try await base.markSetAsideReported(destination: destination, through: lastSeq)
        }
    }

    @discardableResult
    public func pruneDeliveredAlerts(before date: Date) async throws(StorageError) -> Int {
        try await within("pruning alerts") { [base] () throws(StorageError) in try await base.pruneDeliveredAlerts(before: date) }
    }

    public func acquireLease(_ name: String, owner: String, seconds: Int) async throws(StorageError) -> Bool {
        try await within("a lease") { [base] () throws(StorageError) in
            try await base.acquireLease(name, owner: owner, seconds: seconds)
        }
    }
}
