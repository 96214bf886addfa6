import Events
import Foundation
import Kafka
import Synchronization

/// A time range of Kafka topics to replay, read without touching any consumer group's offsets.
///
/// - Start: per partition, the first offset whose message timestamp is at or after `since`
///   (`rd_kafka_offsets_for_times`), or the low watermark without `since`. A broker that answers "none" for a
///   partition that has messages is checked by reading the partition's last message: if that one is at or after
///   `since` too, the broker could not look up by time (librdkafka's mock cluster cannot) and the partition is read
///   from its low watermark, skipping messages before `since`.
/// - End: the high watermarks as they were at the start, or the first message whose timestamp is after `until`.
/// - Reading: a `Consumer` by manual assignment (no subscription, `enable.auto.commit=false`, a group id of its
///   own), so the live group's committed offsets stay as they are.
/// - Order: the partitions are merged by message timestamp (a message is handed on once every partition still
///   being read has one waiting), so the engine's watermark sees them in about the order they were written, as the
///   daemon's partition-aware watermark would. A partition far ahead is paused until the others catch up.
public struct KafkaTimeRange: Sendable {
    public var bootstrapServers: String
    public var topics: [String]
    public var since: Timestamp?
    public var until: Timestamp?
    /// librdkafka properties for the admin client and the reader (TLS, SASL, …).
    public var properties: [String: String]
    /// When no message has come for this long, the partitions still open are taken as read (their last offsets
    /// may be gaps, as in a compacted topic, or transaction markers).
    public var idleTimeout: Swift.Duration
    public var logHandler: KafkaLogHandler?

    public init(
        bootstrapServers: String, topics: [String], since: Timestamp? = nil, until: Timestamp? = nil,
        properties: [String: String] = [:], idleTimeout: Swift.Duration = .seconds(15), logHandler: KafkaLogHandler? = nil
    ) {
        self.bootstrapServers = bootstrapServers
        self.topics = topics
        self.since = since
        self.until = until
        self.properties = properties
        self.idleTimeout = idleTimeout
        self.logHandler = logHandler
    }

    /// One partition's part of the range: read `[start, end)`, skipping messages before `skipBefore` (ms).
    public struct Plan: Sendable, Hashable {
        public var partition: TopicPartition
        public var start: Int64
        public var end: Int64
        public var skipBefore: Int64?
        public var count: Int { Int(max(0, end - start)) }
    }

    /// Finds where to start and end in each partition of `topics`.
    public func plan() async throws(ReplayError) -> [Plan] {
        do {
            var config = AdminConfiguration(bootstrapServers: [bootstrapServers])
            config.properties = properties
            config.logHandler = logHandler
            let admin = try Admin(configuration: config)
            let metadata = try await admin.metadata(topics: topics)
            var partitions: [TopicPartition] = []
            for topic in topics {
                guard let t = metadata.topic(topic), t.error == nil, !t.partitions.isEmpty else {
                    throw ReplayError(.input, "Kafka topic \(topic) does not exist at \(bootstrapServers)")
                }
                partitions += t.partitions.map { TopicPartition(topic: topic, partition: $0.id) }
            }
            var marks: [TopicPartition: Watermarks] = [:]
            for p in partitions { marks[p] = try await admin.watermarks(topic: p.topic, partition: p.partition) }
            var plans = partitions.map { Plan(partition: $0, start: marks[$0]!.low, end: marks[$0]!.high) }
            guard let since else { return plans }
            let sinceMs = since.microseconds / 1000
            let found = try await admin.offsets(forTimes: Dictionary(uniqueKeysWithValues: partitions.map { ($0, sinceMs) }))
            var unsure: [Int] = []
            for i in plans.indices {
                let offset = found[plans[i].partition] ?? -1
                if offset >= 0 {
                    plans[i].start = min(max(offset, plans[i].start), plans[i].end)
                } else if plans[i].count > 0 {
                    unsure.append(i)
                }
            }
            // "None": true when even the last message is older than `since`; otherwise the broker cannot tell.
            let last = try await lastTimestamps(unsure.map { TopicPartitionOffset(plans[$0].partition, offset: plans[$0].end - 1) })
            for i in unsure {
                if let t = last[plans[i].partition], t >= sinceMs {
                    plans[i].skipBefore = sinceMs
                } else {
                    plans[i].start = plans[i].end
                }
            }
            return plans
        } catch let error as ReplayError {
            throw error
        } catch {
            throw ReplayError(.input, "Kafka at \(bootstrapServers): \(error)")
        }
    }

    /// The timestamps of the messages at these offsets (one per partition).
    private func lastTimestamps(_ offsets: [TopicPartitionOffset]) async throws -> [TopicPartition: Int64] {
        guard !offsets.isEmpty else { return [:] }
        let consumer = try Consumer(configuration: readerConfiguration(), assignment: offsets)
        var result: [TopicPartition: Int64] = [:]
        let wanted = Set(offsets)
        let deadline = ContinuousClock.now + .seconds(30)
        read: for try await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            for m in batch.messages where wanted.contains(TopicPartitionOffset(m.topicPartition, offset: m.offset)) {
                result[m.topicPartition] = m.timestampMilliseconds ?? Int64.min
            }
            if result.count == offsets.count || ContinuousClock.now > deadline { break read }
        }
        await consumer.shutdown()
        return result
    }

    private func readerConfiguration() -> ConsumerConfiguration {
        var config = ConsumerConfiguration(
            bootstrapServers: [bootstrapServers], groupID: "consentinel-replay-\(UUID().uuidString)", topics: topics)
        config.clientID = "consentinel-replay"
        config.maxBatchSize = 1000
        config.bufferedBatches = 8
        config.properties = properties
        config.logHandler = logHandler
        return config
    }

    /// A message handed to `read`'s body; `bytes` is valid only during the call.
    public struct Message {
        public let topic: String
        public let partition: Int32
        public let offset: Int64
        public let bytes: UnsafeRawBufferPointer
    }

    /// Reads the range, merged by timestamp, calling `body` with each message, the messages planned and the
    /// messages read so far. Returns how many were read (skipped ones included).
    @discardableResult
    public func read(
        _ body: (Message, _ planned: Int, _ read: Int) throws(ReplayError) -> Void
    ) async throws(ReplayError) -> Int {
        let plans = try await plan().filter { $0.count > 0 }
        let planned = plans.reduce(0) { $0 + $1.count }
        guard !plans.isEmpty else { return 0 }
        let consumer: Consumer
        do {
            consumer = try Consumer(
                configuration: readerConfiguration(),
                assignment: plans.map { TopicPartitionOffset($0.partition, offset: $0.start) })
        } catch {
            throw ReplayError(.input, "Kafka at \(bootstrapServers): \(error)")
        }
        var merge = TimestampMerge(plans: plans, until: until.map { $0.microseconds / 1000 })
        let lastActivity = ActivityClock()
        let idle = idleTimeout
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                if lastActivity.idle > idle {
                    await consumer.shutdown()
                    return
                }
            }
        }
        defer { watchdog.cancel() }
        var read = 0
        var paused = Set<TopicPartition>()
        func deliver(_ messages: [ConsumerMessage]) throws(ReplayError) {
            for m in messages {
                read += 1
                let failure: ReplayError? = m.value.withUnsafeBytes { bytes in
                    do throws(ReplayError) {
                        try body(Message(topic: m.topic, partition: m.partition, offset: m.offset, bytes: bytes), planned, read)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let failure { throw failure }
            }
        }
        do {
            for try await event in consumer.events {
                guard case .messages(let batch) = event else { continue }
                lastActivity.touch()
                read += merge.add(batch.messages)
                try deliver(merge.release())
                if merge.isDone { break }
                let (pause, resume) = merge.flowControl(paused: paused)
                if !pause.isEmpty { try await consumer.pause(pause); paused.formUnion(pause) }
                if !resume.isEmpty { try await consumer.resume(resume); paused.subtract(resume) }
            }
        } catch let error as ReplayError {
            await consumer.shutdown()
            throw error
        } catch {
            await consumer.shutdown()
            throw ReplayError(.input, "Kafka at \(bootstrapServers): \(error)")
        }
        // Ended by the watchdog: what is still open is taken as read.
        merge.closeAll()
        try deliver(merge.release())
        await consumer.shutdown()
        return read
    }

}

/// When something last happened, for a watchdog on another task.
private final class ActivityClock: Sendable {
    private let last = Mutex(ContinuousClock.now)
    func touch() { last.withLock { $0 = .now } }
    var idle: Swift.Duration { ContinuousClock.now - last.withLock { $0 } }
}

/// Merges partitions by message timestamp: a message is released once every partition still open has one
/// waiting (or is finished), the earliest first (ties: by topic, partition).
struct TimestampMerge {
    struct Lane {
        var plan: KafkaTimeRange.Plan
        var queue: [ConsumerMessage] = []
        var head = 0
        var open = true
        var waiting: Int { queue.count - head }
    }

    var lanes: [TopicPartition: Lane] = [:]
    let order: [TopicPartition]
    let until: Int64?
    static let pauseAbove = 20_000
    static let resumeBelow = 5_000

    init(plans: [KafkaTimeRange.Plan], until: Int64?) {
        for plan in plans { lanes[plan.partition] = Lane(plan: plan) }
        order = plans.map(\.partition).sorted()
        self.until = until
    }

    var isDone: Bool { lanes.values.allSatisfy { !$0.open && $0.waiting == 0 } }

    /// Queues messages in the range; returns how many were passed over (before `since`, or after the end).
    mutating func add(_ messages: [ConsumerMessage]) -> Int {
        var skipped = 0
        for m in messages {
            guard var lane = lanes[m.topicPartition], lane.open else { continue }
            if m.offset >= lane.plan.end { lane.open = false; lanes[m.topicPartition] = lane; continue }
            if m.offset >= lane.plan.end - 1 { lane.open = false }
            let t = m.timestampMilliseconds ?? Int64.min
            if let until, t > until {
                lane.open = false
            } else if let skip = lane.plan.skipBefore, t < skip {
                skipped += 1
            } else {
                if lane.plan.skipBefore != nil { lane.plan.skipBefore = nil }  // from here on, read everything
                lane.queue.append(m)
            }
            lanes[m.topicPartition] = lane
        }
        return skipped
    }

    /// Takes the messages that can go on now, in timestamp order.
    mutating func release() -> [ConsumerMessage] {
        var out: [ConsumerMessage] = []
        while true {
            var best: (TopicPartition, Int64)?
            for p in order {
                let lane = lanes[p]!
                if lane.waiting == 0 {
                    if lane.open { return compact(out) }
                    continue
                }
                let t = lane.queue[lane.head].timestampMilliseconds ?? Int64.min
                if best == nil || t < best!.1 { best = (p, t) }
            }
            guard let (p, _) = best else { return compact(out) }
            out.append(lanes[p]!.queue[lanes[p]!.head])
            lanes[p]!.head += 1
        }
    }

    private mutating func compact(_ out: [ConsumerMessage]) -> [ConsumerMessage] {
        for p in order where lanes[p]!.head > 4096 && lanes[p]!.head * 2 > lanes[p]!.queue.count {
            lanes[p]!.queue.removeFirst(lanes[p]!.head)
            lanes[p]!.head = 0
        }
        return out
    }

    mutating func closeAll() {
        for p in order { lanes[p]!.open = false }
    }

    /// Partitions to pause (far ahead of the others) and to resume (caught up).
    func flowControl(paused: Set<TopicPartition>) -> (pause: [TopicPartition], resume: [TopicPartition]) {
        var pause: [TopicPartition] = []
        var resume: [TopicPartition] = []
        for p in order {
            let lane = lanes[p]!
            if lane.open && !paused.contains(p) && lane.waiting > Self.pauseAbove { pause.append(p) }
            if paused.contains(p) && lane.waiting < Self.resumeBelow { resume.append(p) }
        }
        return (pause, resume)
    }
}
