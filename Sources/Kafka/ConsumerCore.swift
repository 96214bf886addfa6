import CRdKafka
import Dispatch
import Foundation
import Synchronization

/// The consumer's machinery: the thread that polls librdkafka, the bounded, ordered buffer of events between it
/// and the async reader, and the commands (seek, pause, resume, commit) that the thread runs for async callers.
///
/// Everything that touches the consumer's position (poll, assign, seek, pause, resume) happens on the one
/// consumer thread; the rebalance callback runs there too (librdkafka calls it from `rd_kafka_consumer_poll` and
/// `rd_kafka_consumer_close`). Batches are built from single `rd_kafka_consumer_poll` calls, because librdkafka
/// 2.0.2's batch-consume API is unsafe during a rebalance.
final class ConsumerCore: Sendable {
    typealias Reply = CheckedContinuation<Result<Void, KafkaError>, Never>

    enum Command {
        case seek([TopicPartitionOffset], Reply)
        case pause([TopicPartition], Reply)
        case resume([TopicPartition], Reply)
        case commit(Reply)

        var reply: Reply {
            switch self {
            case .seek(_, let reply), .pause(_, let reply), .resume(_, let reply), .commit(let reply): reply
            }
        }
    }

    private struct Entry {
        let event: ConsumerEvent
        /// Set for assignment changes: the consumer thread waits until the reader acknowledges this token.
        let token: UInt64?
    }

    private typealias Waiter = CheckedContinuation<Result<ConsumerEvent?, KafkaError>, Never>

    /// State shared by the consumer thread, the reader and API callers.
    private struct Shared {
        var queue: [Entry] = []
        var queuedBatches = 0
        var waiter: Waiter?
        /// Numbers the waits, so that an idle timer resumes only the wait it was started for.
        var waits: UInt64 = 0
        /// The token of the last assignment change handed to the reader, acknowledged by its next `next()`.
        var handedOut: UInt64?
        var acknowledgedThrough: UInt64 = 0
        var nextToken: UInt64 = 1
        var readers = 0
        var stopRequested = false
        var finished = false
        var failure: KafkaError?
        var commands: [Command] = []
        var threadDone = false
        var doneWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct ProcessedOffsets {
        var stored: [TopicPartition: Int64] = [:]
        /// Processed offsets of partitions revoked without a successful commit.
        var uncommitted: [TopicPartition: Int64] = [:]
    }

    /// State of the consumer thread only (a `Mutex` just to make that checkable; it is never contended).
    private struct Local {
        var batch: [ConsumerMessage] = []
        var batchDeadline: ContinuousClock.Instant?
    }

    private let maxBatchSize: Int
    private let batchLinger: Duration
    private let bufferedBatches: Int
    private let rebalanceTimeout: Duration
    private let idleInterval: Duration?
    private let logHandler: KafkaLogHandler?
    private let shared = Mutex(Shared())
    private let processed = Mutex(ProcessedOffsets())
    private let local = Mutex(Local())
    /// Wakes the consumer thread when the reader takes an event, acknowledges a change, or a command arrives.
    private let wake = DispatchSemaphore(value: 0)

    init(configuration: ConsumerConfiguration) {
        maxBatchSize = max(1, configuration.maxBatchSize)
        batchLinger = configuration.batchLinger
        bufferedBatches = max(1, configuration.bufferedBatches)
        rebalanceTimeout = configuration.rebalanceTimeout
        idleInterval = configuration.idleInterval
        logHandler = configuration.logHandler
    }

    // MARK: - The consumer thread

    /// Starts the consumer thread. It holds `client` only while it runs: when `waitUntilDone()` returns, the thread
    /// has let go of it, so the client is destroyed with the last `Consumer` reference, not later by a thread.
    func start(_ client: KafkaClient) {
        let handoff = Handoff(client)
        let thread = Thread { [self] in
            if let client = handoff.take() { run(client) }
            finish()
        }
        thread.name = "kafka-consumer"
        thread.start()
    }

    private func run(_ client: KafkaClient) {
        let rk = client.handle
        while true {
            runCommands(rk, pendingAssignment: nil)
            let (stop, full) = shared.withLock { ($0.stopRequested, $0.queuedBatches >= bufferedBatches) }
            if stop { break }
            if full {
                // Backpressure: stop polling until the reader takes a batch (librdkafka keeps the group alive
                // from its own threads; `max.poll.interval.ms` bounds how long the reader may take).
                _ = wake.wait(timeout: .now() + .milliseconds(50))
                continue
            }
            if let message = rd_kafka_consumer_poll(rk, pollTimeout()) {
                if !handle(message, rk) { break }
            }
            flushBatchIfDue()
        }
        flushBatch()
        // Revokes the assignment through the rebalance callback (which commits), then leaves the group.
        let closeError = rd_kafka_consumer_close(rk)
        if closeError != RD_KAFKA_RESP_ERR_NO_ERROR {
            log(.error, .close, "consumer close: \(KafkaError.Code(closeError).name)")
        }
    }

    /// Handles one polled message (destroying it); `false` when the consumer cannot go on.
    private func handle(_ message: UnsafeMutablePointer<rd_kafka_message_t>, _ rk: OpaquePointer) -> Bool {
        defer { rd_kafka_message_destroy(message) }
        let err = message.pointee.err
        switch err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            let copy = Self.copy(message)
            local.withLock { local in
                if local.batch.isEmpty { local.batchDeadline = .now + batchLinger }
                local.batch.append(copy)
            }
            return true
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            return true
        case RD_KAFKA_RESP_ERR__FATAL:
            var errstr = [CChar](repeating: 0, count: 512)
            let fatal = rd_kafka_fatal_error(rk, &errstr, errstr.count)
            fail(KafkaError(code: KafkaError.Code(fatal), message: "fatal consumer error: \(string(errstr))"))
            return false
        default:
            let detail = String(cString: rd_kafka_err2str(err))
            log(.warning, .consume, "\(KafkaError.Code(err).name): \(detail)")
            return true
        }
    }

    private func pollTimeout() -> Int32 {
        let deadline = local.withLock { $0.batchDeadline }
        guard let deadline else { return 100 }
        return min(100, max(0, (deadline - .now).milliseconds))
    }

    private func flushBatchIfDue() {
        let due = local.withLock { local in
            !local.batch.isEmpty && (local.batch.count >= maxBatchSize || local.batchDeadline! <= .now)
        }
        if due { flushBatch() }
    }

    /// Hands the batch being built to the reader (even when the buffer is full: it must precede what follows).
    private func flushBatch() {
        let messages = local.withLock { local in
            defer { local.batch = []; local.batchDeadline = nil }
            return local.batch
        }
        if !messages.isEmpty { push(.messages(ConsumerBatch(messages: messages)), acknowledged: false) }
    }

    private static func copy(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> ConsumerMessage {
        let m = message.pointee
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            for index in 0..<rd_kafka_header_cnt(headerList) {
                var name: UnsafePointer<CChar>?
                var value: UnsafeRawPointer?
                var size = 0
                guard rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR,
                      let name else { continue }
                headers.append(KafkaHeader(key: String(cString: name), value: bytes(value, size)))
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return ConsumerMessage(
            topic: String(cString: rd_kafka_topic_name(m.rkt)),
            partition: m.partition,
            offset: m.offset,
            key: bytes(m.key, m.key_len),
            value: bytes(m.payload, m.len) ?? [],
            headers: headers,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }

    private static func bytes(_ pointer: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
        guard let pointer else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    // MARK: - Rebalance (on the consumer thread, called by librdkafka)

    func rebalance(
        _ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let changed = PartitionList.partitions(partitions)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            flushBatch()
            let resumed = resumeProcessedOffsets(rk, partitions)
            if !changed.isEmpty {
                // The caller may seek while it handles the event: those seeks set the start offsets in `partitions`.
                awaitAcknowledgement(of: .assigned(AssignmentChange(partitions: changed, lost: false)), rk, partitions)
            }
            if cooperative {
                report(rd_kafka_incremental_assign(rk, partitions), "incremental assign")
            } else {
                report(rd_kafka_assign(rk, partitions), "assign")
            }
            storeResumed(rk, resumed, partitions)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            flushBatch()
            let lost = rd_kafka_assignment_lost(rk) != 0
            if !changed.isEmpty {
                // Every batch of these partitions is ahead of this event: once the reader asks for the event after
                // it, their offsets are stored.
                awaitAcknowledgement(of: .revoked(AssignmentChange(partitions: changed, lost: lost)), rk, nil)
            }
            let committed = !lost && commitStored(rk, "commit on revoke")
            forgetStored(changed, keepForResume: !committed)
            if cooperative {
                report(rd_kafka_incremental_unassign(rk, partitions), "incremental unassign")
            } else {
                report(rd_kafka_assign(rk, nil), "unassign")
            }
        default:
            log(.error, .rebalance, "rebalance failed: \(KafkaError.Code(err).name)")
            report(rd_kafka_assign(rk, nil), "unassign after failed rebalance")
        }
    }

    /// Pushes an assignment change and runs commands until the reader acknowledges it (by asking for the next
    /// event), the reader is gone during shutdown, or `rebalanceTimeout` passes.
    private func awaitAcknowledgement(
        of event: ConsumerEvent, _ rk: OpaquePointer,
        _ pendingAssignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        guard let token = push(event, acknowledged: true) else { return }
        let deadline = ContinuousClock.now + rebalanceTimeout
        while true {
            runCommands(rk, pendingAssignment: pendingAssignment)
            let done = shared.withLock { s in
                s.acknowledgedThrough >= token || (s.stopRequested && s.readers == 0)
            }
            if done { return }
            if ContinuousClock.now >= deadline {
                log(.warning, .rebalance, "reader did not take the assignment change within \(rebalanceTimeout); going on")
                return
            }
            _ = wake.wait(timeout: .now() + .milliseconds(20))
        }
    }

    /// Commits the stored offsets (synchronously); `false` when the broker refused them.
    private func commitStored(_ rk: OpaquePointer, _ context: String) -> Bool {
        let err = rd_kafka_commit(rk, nil, 0)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            log(.warning, .commit, "\(context): \(KafkaError(err, "").description)")
            return false
        }
        return true
    }

    // MARK: - Processed offsets whose commit failed

    /// Offsets stored through `Consumer.storeOffsets`, per partition (the next offset to read).
    func recordStored(_ offsets: [TopicPartitionOffset]) {
        processed.withLock { state in
            for offset in offsets { state.stored[offset.topicPartition] = offset.offset }
        }
    }

    /// Forgets the stored offsets of revoked partitions; when their commit failed (a revocation during a
    /// rebalance may be refused with `REBALANCE_IN_PROGRESS`, or the partitions were lost) keeps them, so that
    /// messages this consumer has processed are not read again if the partitions come back to it.
    private func forgetStored(_ partitions: [TopicPartition], keepForResume: Bool) {
        processed.withLock { state in
            for partition in partitions {
                guard let offset = state.stored.removeValue(forKey: partition) else { continue }
                if keepForResume { state.uncommitted[partition] = offset }
            }
        }
    }

    /// For assigned partitions that this consumer processed further than the group's committed offset (because
    /// its commit failed), starts at its own processed offset. Returns those offsets, to store after assigning.
    private func resumeProcessedOffsets(
        _ rk: OpaquePointer, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) -> [TopicPartitionOffset] {
        guard let partitions else { return [] }
        let candidates: [TopicPartitionOffset] = processed.withLock { state in
            PartitionList.partitions(partitions).compactMap { partition in
                state.uncommitted.removeValue(forKey: partition).map { TopicPartitionOffset(partition, offset: $0) }
            }
        }
        guard !candidates.isEmpty else { return [] }
        let committed = PartitionList(candidates.map(\.topicPartition))
        let err = rd_kafka_committed(rk, committed.pointer, 10_000)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            log(.warning, .commit, "committed offsets on assign: \(KafkaError(err, "").description)")
            return []
        }
        var resumed: [TopicPartitionOffset] = []
        for (candidate, entry) in zip(candidates, PartitionList.entries(committed.pointer))
        where entry.err == RD_KAFKA_RESP_ERR_NO_ERROR && candidate.offset > entry.offset {
            rd_kafka_topic_partition_list_find(partitions, candidate.topic, candidate.partition)?.pointee.offset =
                candidate.offset
            resumed.append(candidate)
        }
        return resumed
    }

    /// Stores the resumed offsets, unless the caller sought elsewhere, so that the next commit carries them.
    private func storeResumed(
        _ rk: OpaquePointer, _ resumed: [TopicPartitionOffset],
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        guard let partitions else { return }
        let unchanged = resumed.filter {
            rd_kafka_topic_partition_list_find(partitions, $0.topic, $0.partition)?.pointee.offset == $0.offset
        }
        guard !unchanged.isEmpty else { return }
        let list = PartitionList(unchanged)
        let err = rd_kafka_offsets_store(rk, list.pointer)
        if err == RD_KAFKA_RESP_ERR_NO_ERROR, list.firstError("") == nil {
            recordStored(unchanged)
        } else {
            log(.warning, .commit, "storing resumed offsets: \(KafkaError(err, "").description)")
        }
    }

    private func report(_ err: rd_kafka_resp_err_t, _ context: String) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { log(.error, .rebalance, "\(context): \(KafkaError(err, "").description)") }
    }

    private func report(_ error: OpaquePointer?, _ context: String) {
        if let error { log(.error, .rebalance, "\(context): \(KafkaError(consuming: error, "").description)") }
    }

    // MARK: - Commands (enqueued by any thread, run on the consumer thread)

    /// Runs a command on the consumer thread and waits for its outcome.
    func perform(_ make: (Reply) -> Command) async throws(KafkaError) {
        let result = await withCheckedContinuation { (reply: Reply) in
            let command = make(reply)
            let accepted = shared.withLock { s in
                guard !s.threadDone else { return false }
                s.commands.append(command)
                return true
            }
            if accepted {
                wake.signal()
            } else {
                reply.resume(returning: .failure(KafkaError(code: .destroyed, message: "consumer is closed")))
            }
        }
        try result.get()
    }

    private func runCommands(
        _ rk: OpaquePointer, pendingAssignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let commands = shared.withLock { s in
            defer { s.commands.removeAll() }
            return s.commands
        }
        for command in commands {
            let result: Result<Void, KafkaError>
            do throws(KafkaError) {
                try run(command, rk, pendingAssignment)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            command.reply.resume(returning: result)
        }
    }

    private func run(
        _ command: Command, _ rk: OpaquePointer,
        _ pendingAssignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) throws(KafkaError) {
        switch command {
        case .seek(let offsets, _):
            var others: [TopicPartitionOffset] = []
            for offset in offsets {
                // A partition about to be assigned starts where the caller says: set its offset in the list.
                if let pendingAssignment,
                   let entry = rd_kafka_topic_partition_list_find(pendingAssignment, offset.topic, offset.partition) {
                    entry.pointee.offset = offset.offset
                } else {
                    others.append(offset)
                }
            }
            guard !others.isEmpty else { return }
            let sought = Set(others.map(\.topicPartition))
            local.withLock { $0.batch.removeAll { sought.contains($0.topicPartition) } }
            let list = PartitionList(others)
            try KafkaError.check(rd_kafka_seek_partitions(rk, list.pointer, 10_000), "seek")
            if let error = list.firstError("seek") { throw error }
        case .pause(let partitions, _):
            let list = PartitionList(partitions)
            try KafkaError.check(rd_kafka_pause_partitions(rk, list.pointer), "pause")
            if let error = list.firstError("pause") { throw error }
        case .resume(let partitions, _):
            let list = PartitionList(partitions)
            try KafkaError.check(rd_kafka_resume_partitions(rk, list.pointer), "resume")
            if let error = list.firstError("resume") { throw error }
        case .commit:
            let err = rd_kafka_commit(rk, nil, 0)
            if err != RD_KAFKA_RESP_ERR__NO_OFFSET { try KafkaError.check(err, "commit") }
        }
    }

    // MARK: - The buffer between the thread and the reader

    /// Queues an event (or hands it to a waiting reader); returns its acknowledgement token when asked for one.
    @discardableResult
    private func push(_ event: ConsumerEvent, acknowledged: Bool) -> UInt64? {
        let (token, waiter) = shared.withLock { s -> (UInt64?, Waiter?) in
            var token: UInt64?
            if acknowledged {
                token = s.nextToken
                s.nextToken += 1
            }
            if let waiter = s.waiter {
                s.waiter = nil
                s.handedOut = token
                return (token, waiter)
            }
            s.queue.append(Entry(event: event, token: token))
            if case .messages = event { s.queuedBatches += 1 }
            return (token, nil)
        }
        waiter?.resume(returning: .success(event))
        return token
    }

    /// The reader's next event: acknowledges the change it took last, and waits while there is none.
    func next() async throws(KafkaError) -> ConsumerEvent? {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: Waiter) in
                let (ready, signal, wait) = shared.withLock { s -> (Result<ConsumerEvent?, KafkaError>?, Bool, UInt64) in
                    var signal = false
                    if let token = s.handedOut {
                        s.acknowledgedThrough = max(s.acknowledgedThrough, token)
                        s.handedOut = nil
                        signal = true
                    }
                    if !s.queue.isEmpty {
                        let entry = s.queue.removeFirst()
                        if case .messages = entry.event { s.queuedBatches -= 1 }
                        s.handedOut = entry.token
                        return (.success(entry.event), true, 0)
                    }
                    if s.finished { return (s.failure.map { .failure($0) } ?? .success(nil), signal, 0) }
                    if Task.isCancelled { return (.success(nil), signal, 0) }
                    s.waiter = waiter
                    s.waits += 1
                    return (nil, signal, s.waits)
                }
                if signal { wake.signal() }
                if let ready {
                    waiter.resume(returning: ready)
                } else if let idleInterval {
                    resumeIdle(after: idleInterval, wait: wait)
                }
            }
        } onCancel: {
            let waiter = shared.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: .success(nil))
        }
        return try result.get()
    }

    /// Hands the reader `.idle` if the wait `wait` is still going on after `interval`.
    private func resumeIdle(after interval: Duration, wait: UInt64) {
        Task { [self] in
            try? await Task.sleep(for: interval)
            let waiter = shared.withLock { s -> Waiter? in
                guard s.waits == wait, let waiter = s.waiter else { return nil }
                s.waiter = nil
                return waiter
            }
            waiter?.resume(returning: .success(.idle))
        }
    }

    func readerAttached() {
        shared.withLock { $0.readers += 1 }
    }

    /// A reader that goes away has acknowledged what it took.
    func readerDetached() {
        shared.withLock { s in
            s.readers -= 1
            if let token = s.handedOut {
                s.acknowledgedThrough = max(s.acknowledgedThrough, token)
                s.handedOut = nil
            }
        }
        wake.signal()
    }

    // MARK: - Shutdown

    func requestStop() {
        shared.withLock { $0.stopRequested = true }
        wake.signal()
    }

    /// Waits until the consumer thread has closed the consumer.
    func waitUntilDone() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s in
                if !s.threadDone { s.doneWaiters.append(continuation) }
                return s.threadDone
            }
            if done { continuation.resume() }
        }
    }

    private func fail(_ error: KafkaError) {
        shared.withLock { $0.failure = $0.failure ?? error }
    }

    /// Ends the event stream (after what is queued) and releases everyone still waiting.
    private func finish() {
        let (waiter, commands, doneWaiters, failure) = shared.withLock { s in
            s.finished = true
            s.threadDone = true
            defer { s.waiter = nil; s.commands = []; s.doneWaiters = [] }
            return (s.waiter, s.commands, s.doneWaiters, s.failure)
        }
        waiter?.resume(returning: failure.map { .failure($0) } ?? .success(nil))
        for command in commands {
            command.reply.resume(returning: .failure(KafkaError(code: .destroyed, message: "consumer is closed")))
        }
        for continuation in doneWaiters { continuation.resume() }
    }

    private func log(_ level: KafkaLogRecord.Level, _ facility: KafkaLogRecord.Facility, _ message: String) {
        let record = KafkaLogRecord(level: level.rawValue, facility: facility.rawValue, message: message)
        if let logHandler { logHandler(record) } else { defaultLogHandler(record) }
    }
}
