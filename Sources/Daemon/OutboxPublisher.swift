import Alerts
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Storage

/// Publishes stored outputs: Kafka rows with the idempotent producer (sent only when the delivery report says so),
/// file rows appended to JSONL files; each row is marked sent afterwards, so unsent rows are retried after a restart.
/// Rows are leased from the store first, so instances sharing a store publish different rows.
final class OutboxPublisher: Service {
    let store: any StateStore
    let producer: Producer?
    let metrics: DaemonMetrics
    let logger: Logger
    let stall: StallWatch
    /// Who holds the rows this publisher is sending, so that other instances sharing the store leave them alone.
    let owner = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"
    /// How long a round's rows stay this publisher's (`sinks.lease`): an instance that dies holds its rows this long.
    let lease: Duration

    init(store: any StateStore, producer: Producer?, metrics: DaemonMetrics, logger: Logger,
         lease: Duration = DaemonConfiguration.defaultOutboxLease) {
        self.lease = lease
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
        var unmarked: [String] = []
        let watch = Task { [stall, logger, metrics] in await stall.watch(logger: logger, metrics: metrics) }
        defer { watch.cancel() }
        while true {
            if ContinuousClock.now - lastPrune > .seconds(600) {
                lastPrune = .now
                // Sent rows are kept a day so that a re-processed batch cannot publish them again.
                _ = try? await store.pruneSent(before: Date().addingTimeInterval(-86_400))
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { draining = true }
            let published = try await publishOnce(files: &files, unmarked: &unmarked)
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
        await producer?.shutdown(timeout: .seconds(5))
    }

    /// Publishes one round of unsent rows; the number published, or -1 when some failed (retried later). `unmarked`:
    /// rows published whose marking as sent failed (a store that does not take writes), marked before anything else is
    /// leased, so that they are not published again meanwhile.
    func publishOnce(files: inout [String: JSONLAppender], unmarked: inout [String]) async throws -> Int {
        if !unmarked.isEmpty {
            do {
                try await store.markSent(unmarked)
                unmarked = []
            } catch {
                logger.error("marking outputs sent failed", metadata: ["error": "\(error)"])
                return -1
            }
        }
        let rows: [OutboxRow]
        do {
            stall.enter("reading the outbox")
            rows = try await store.leaseOutbox(limit: 1_000, owner: owner, for: lease)
            metrics.outboxDepth(try await store.outboxDepth())
        } catch {
            logger.error("outbox read failed", metadata: ["error": "\(error)"])
            return -1
        }
        guard !rows.isEmpty else { return 0 }
        var sent: [String] = []
        var failed = 0
        // Counted once per kind and round: the registry's look-up of a labelled counter costs more than a row.
        var published: [String: Int] = [:]
        defer { for (kind, n) in published { metrics.published(kind: kind, n) } }
        let kafkaRows = rows.filter { $0.topic.hasPrefix("kafka:") }
        if !kafkaRows.isEmpty {
            stall.enter("publishing to Kafka")
            if let producer {
                await withTaskGroup(of: (String, String?, Error?).self) { group in
                    for row in kafkaRows {
                        group.addTask {
                            do {
                                _ = try await producer.send(
                                    topic: String(row.topic.dropFirst(6)), key: row.key, value: row.value,
                                    headers: row.headers.map { KafkaHeader(key: $0.key, value: $0.value) })
                                return (row.id, row.kind, nil)
                            } catch {
                                return (row.id, nil, error)
                            }
                        }
                    }
                    for await (id, kind, error) in group {
                        if let error {
                            failed += 1
                            logger.warning("publish failed, will retry", metadata: ["id": "\(id)", "error": "\(error)"])
                        } else {
                            sent.append(id)
                            published[kind ?? "", default: 0] += 1
                        }
                    }
                }
            } else {
                failed += kafkaRows.count
                logger.error("outputs for Kafka topics but no producer configured", metadata: ["rows": "\(kafkaRows.count)"])
            }
        }
        stall.enter("writing output files")
        // A file's rows of the round, in outbox order, are one write.
        var byPath: [String: [OutboxRow]] = [:]
        var paths: [String] = []
        for row in rows where row.topic.hasPrefix("file:") {
            let path = String(row.topic.dropFirst(5))
            if byPath[path] == nil { paths.append(path) }
            byPath[path, default: []].append(row)
        }
        for path in paths {
            let fileRows = byPath[path] ?? []
            do {
                let f = try files[path] ?? JSONLAppender(path: path)
                files[path] = f
                try f.append(lines: fileRows.map(\.value))
                for row in fileRows {
                    sent.append(row.id)
                    published[row.kind, default: 0] += 1
                }
            } catch {
                // A write cut short leaves part of a line: the file is opened again next round, which ends it.
                files[path] = nil
                failed += fileRows.count
                logger.error("file output failed, will retry", metadata: ["path": "\(path)", "rows": "\(fileRows.count)", "error": "\(error)"])
            }
        }
        do {
            for f in files.values { try f.sync() }
        } catch {
            logger.error("syncing output files failed", metadata: ["error": "\(error)"])
            return -1
        }
        do {
            stall.enter("marking outputs sent")
            try await store.markSent(sent)
        } catch {
            unmarked = sent
            logger.error("marking outputs sent failed", metadata: ["error": "\(error)"])
            return -1
        }
        return failed > 0 ? -1 : sent.count
    }
}
