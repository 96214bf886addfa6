import Alerts
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Storage

/// Publishes stored outputs: Kafka rows with the idempotent producer (sent only when the delivery report says so),
/// file rows appended to JSONL files; each row is marked sent afterwards, so unsent rows are retried after a restart.
/// Rows come handed over by this process's commits, which store them leased to this publisher (`OutboxSignal`), or
/// are leased from the store by a round of its own, so instances sharing a store publish different rows.
final class OutboxPublisher: Service {
    let store: any StateStore
    let producer: Producer?
    let metrics: DaemonMetrics
    let logger: Logger
    let stall: StallWatch
    /// Who holds the rows this publisher is sending, so that other instances sharing the store leave them alone.
    let owner = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"
    /// The owner of the rows this process's commits hand over (`OutboxSignal`): not `owner`, so that this publisher's
    /// lease rounds leave them to the hand-over until their lease ends.
    var handOverOwner: String { owner + "/handed-over" }
    /// How long a round's rows stay this publisher's (`sinks.lease`): an instance that dies holds its rows this long.
    let lease: Duration
    /// Lease rounds (rows of other instances, rows from before a restart, rows whose hand-over lease ended) run when
    /// nothing was handed over, and at least this often otherwise.
    let leaseEvery: Duration
    /// Rows handed over, or of a round that failed, waiting for a round; oldest first. A row waits at most half its
    /// lease: after that it is left to a lease round.
    struct Waiting {
        var rows: [(row: StoredOutboxRow, since: ContinuousClock.Instant)] = []
        var lastLease: ContinuousClock.Instant?

        mutating func receive(_ handed: [OutboxSignal.HandedOver]) {
            for batch in handed {
                for row in batch.rows { rows.append((row, batch.at)) }
            }
        }

        /// Puts rows of a round back to be tried first, from memory, while their lease holds.
        mutating func retry(_ failed: [StoredOutboxRow], since: [Int64: ContinuousClock.Instant]) {
            guard !failed.isEmpty else { return }
            let now = ContinuousClock.now
            rows.insert(contentsOf: failed.sorted { $0.seq < $1.seq }.map { ($0, since[$0.seq] ?? now) }, at: 0)
        }
    }

    /// The most rows a round publishes, and the most the hand-over holds before commits store rows free.
    static let roundRows = 1_000
    static let handOverCapacity = 5_000

    init(store: any StateStore, producer: Producer?, metrics: DaemonMetrics, logger: Logger,
         lease: Duration = DaemonConfiguration.defaultOutboxLease, leaseEvery: Duration = .seconds(1)) {
        self.lease = lease
        self.leaseEvery = leaseEvery
        self.store = store
        self.producer = producer
        self.metrics = metrics
        self.logger = logger
        stall = StallWatch(service: "outbox publisher", tracer: logger)
    }

    func run() async throws {
        var backoff = Swift.Duration.milliseconds(100)
        var draining = false
        var lastPrune = ContinuousClock.now
        var files: [String: JSONLAppender] = [:]
        var unmarked: [Int64] = []
        var waiting = Waiting()
        let watch = Task { [stall, logger, metrics] in await stall.watch(logger: logger, metrics: metrics) }
        defer { watch.cancel() }
        store.outboxSignal.accept(OutboxSignal.HandOver(owner: handOverOwner, lease: lease, capacity: Self.handOverCapacity))
        defer { store.outboxSignal.refuse() }
        while true {
            if ContinuousClock.now - lastPrune > .seconds(600) {
                lastPrune = .now
                // Sent rows are kept a day so that a re-processed batch cannot publish them again.
                _ = try? await store.pruneSent(before: Date().addingTimeInterval(-86_400))
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { draining = true }
            let published = try await publishOnce(files: &files, unmarked: &unmarked, waiting: &waiting)
            if published > 0 {
                backoff = .milliseconds(100)
                continue
            }
            // Nothing to publish, or some rows failed (retried after a pause, not in a busy loop).
            if draining { break }
            stall.enter(published == 0 ? "waiting for outputs" : "waiting to retry failed outputs", idle: true)
            if published == 0 {
                // Woken at once by this process's commits; the interval only matters for rows other instances
                // committed to a shared store.
                await store.outboxSignal.wait(timeout: backoff)
            } else {
                try? await Task.sleep(for: backoff)
            }
            backoff = min(backoff * 2, published == 0 ? .seconds(1) : .seconds(5))
        }
        try await finish(files: &files, unmarked: &unmarked, waiting: &waiting)
        await producer?.shutdown(timeout: .seconds(5))
    }

    /// Refuses further hand-overs and publishes the rows handed over and not yet sent; any it cannot send wait for
    /// their lease to end, as rows of a publisher that died do.
    func finish(files: inout [String: JSONLAppender], unmarked: inout [Int64], waiting: inout Waiting) async throws {
        waiting.receive(store.outboxSignal.refuse())
        while !waiting.rows.isEmpty, try await publishOnce(files: &files, unmarked: &unmarked, waiting: &waiting, leasing: false) > 0 {}
    }

    /// Publishes one round of unsent rows; the number published, or -1 when some failed (retried later). `unmarked`:
    /// rows published whose marking as sent failed (a store that does not take writes), marked before anything else is
    /// published, so that they are not published again meanwhile.
    func publishOnce(
        files: inout [String: JSONLAppender], unmarked: inout [Int64], waiting: inout Waiting, leasing: Bool = true
    ) async throws -> Int {
        if !unmarked.isEmpty {
            do {
                try await store.markSent(seqs: unmarked)
                unmarked = []
            } catch {
                logger.error("marking outputs sent failed", metadata: ["error": "\(error)"])
                return -1
            }
        }
        // Rows wait in the hand-over until the round's are few: what waits in memory stays bounded by its capacity.
        if waiting.rows.count < Self.roundRows { waiting.receive(store.outboxSignal.takeHandedOver()) }
        let now = ContinuousClock.now
        // A row whose lease may have ended could be another instance's by now: a lease round finds it if not.
        waiting.rows.removeAll { now - $0.since > lease / 2 }
        let taken = waiting.rows.prefix(Self.roundRows)
        waiting.rows.removeFirst(taken.count)
        var round = taken.map(\.row)
        // Since when each row of the round has been this publisher's: a row handed over since its hand-over, a row
        // leased since this round.
        var since = Dictionary(taken.map { ($0.row.seq, $0.since) }, uniquingKeysWith: { a, _ in a })
        if leasing, round.isEmpty || waiting.lastLease.map({ now - $0 >= leaseEvery }) ?? true {
            waiting.lastLease = now
            do {
                stall.enter("reading the outbox")
                let leased = try await store.leaseOutbox(limit: Self.roundRows, owner: owner, for: lease)
                metrics.outboxDepth(try await store.outboxDepth())
                if !leased.isEmpty {
                    // A failed row of this owner is both waiting and leased again: it is published once.
                    let queued = Set(waiting.rows.lazy.map(\.row.seq))
                    for stored in leased where since[stored.seq] == nil && !queued.contains(stored.seq) {
                        round.append(stored)
                        since[stored.seq] = now
                    }
                    round.sort { $0.seq < $1.seq }
                }
            } catch {
                waiting.rows.insert(contentsOf: taken, at: 0)
                logger.error("outbox read failed", metadata: ["error": "\(error)"])
                return -1
            }
        }
        guard !round.isEmpty else { return 0 }
        var sent: [Int64] = []
        var failedRows: [StoredOutboxRow] = []
        // Counted once per kind and round: the registry's look-up of a labelled counter costs more than a row.
        var published: [String: Int] = [:]
        defer { for (kind, n) in published { metrics.published(kind: kind, n) } }
        let kafkaRows = round.filter { $0.row.topic.hasPrefix("kafka:") }
        if !kafkaRows.isEmpty {
            stall.enter("publishing to Kafka")
            if let producer {
                await withTaskGroup(of: (StoredOutboxRow, Error?).self) { group in
                    for stored in kafkaRows {
                        let row = stored.row
                        group.addTask {
                            do {
                                _ = try await producer.send(
                                    topic: String(row.topic.dropFirst(6)), key: row.key, value: row.value,
                                    headers: row.headers.map { KafkaHeader(key: $0.key, value: $0.value) })
                                return (stored, nil)
                            } catch {
                                return (stored, error)
                            }
                        }
                    }
                    for await (stored, error) in group {
                        if let error {
                            failedRows.append(stored)
                            logger.warning("publish failed, will retry", metadata: ["id": "\(stored.id)", "error": "\(error)"])
                        } else {
                            sent.append(stored.seq)
                            published[stored.row.kind, default: 0] += 1
                        }
                    }
                }
            } else {
                failedRows += kafkaRows
                logger.error("outputs for Kafka topics but no producer configured", metadata: ["rows": "\(kafkaRows.count)"])
            }
        }
        stall.enter("writing output files")
        // A file's rows of the round, in outbox order, are one write.
        var byPath: [String: [StoredOutboxRow]] = [:]
        var paths: [String] = []
        for stored in round where stored.row.topic.hasPrefix("file:") {
            let path = String(stored.row.topic.dropFirst(5))
            if byPath[path] == nil { paths.append(path) }
            byPath[path, default: []].append(stored)
        }
        var written: [StoredOutboxRow] = []
        for path in paths {
            let fileRows = byPath[path] ?? []
            do {
                let f = try files[path] ?? JSONLAppender(path: path)
                files[path] = f
                try f.append(lines: fileRows.map(\.row.value))
                written += fileRows
            } catch {
                // A write cut short leaves part of a line: the file is opened again next round, which ends it.
                files[path] = nil
                failedRows += fileRows
                logger.error("file output failed, will retry", metadata: ["path": "\(path)", "rows": "\(fileRows.count)", "error": "\(error)"])
            }
        }
        do {
            for f in files.values { try f.sync() }
            for stored in written {
                sent.append(stored.seq)
                published[stored.row.kind, default: 0] += 1
            }
        } catch {
            // Lines written but not synced are written again (a file may hold a line twice, never miss one); rows
            // sent to Kafka are marked sent.
            logger.error("syncing output files failed", metadata: ["error": "\(error)"])
            failedRows += written
        }
        waiting.retry(failedRows, since: since)
        do {
            stall.enter("marking outputs sent")
            try await store.markSent(seqs: sent)
        } catch {
            unmarked = sent
            logger.error("marking outputs sent failed", metadata: ["error": "\(error)"])
            return -1
        }
        return failedRows.isEmpty ? sent.count : -1
    }
}
