@testable import Daemon
import Events
import Foundation
import Kafka
import Logging
import Rules
import Storage
import Testing

/// Partitions far ahead in event time are paused so that the event-time buffers stay near their bound, and pausing
/// never stops the watermark.
struct BufferPacingTests {
    static let start = Timestamp(rfc3339: "2026-01-01T00:00:00Z")!
    static func tp(_ p: Int32) -> TopicPartition { TopicPartition(topic: "events", partition: p) }
    static func at(_ hours: Int, buffered: Int) -> BufferPacing.Partition {
        BufferPacing.Partition(buffered: buffered, localWatermark: start + .hours(Int64(hours)))
    }

    @Test func eachPartitionMayBufferItsShareOfTheLimitButNoLessThanTheFloor() {
        let pacing = BufferPacing(limit: 10_000)
        #expect(pacing.share(assigned: 4) == 2_500)
        #expect(pacing.share(assigned: 1_000) == BufferPacing.smallestShare)
        #expect(pacing.share(assigned: 0) == 10_000)
    }

    @Test func aPartitionOverItsShareIsPausedUntilItsBufferHasDrainedToHalf() {
        var pacing = BufferPacing(limit: 400)  // 100 each
        let watermark = Self.start
        var decision = pacing.decide([Self.tp(0): Self.at(0, buffered: 5), Self.tp(1): Self.at(30, buffered: 101),
                                      Self.tp(2): Self.at(2, buffered: 100), Self.tp(3): Self.at(40, buffered: 900)],
                                     watermark: watermark)
        #expect(decision == .init(pause: [Self.tp(1), Self.tp(3)]))
        #expect(pacing.paused == [Self.tp(1), Self.tp(3)])

        decision = pacing.decide([Self.tp(0): Self.at(10, buffered: 5), Self.tp(1): Self.at(30, buffered: 51),
                                  Self.tp(2): Self.at(12, buffered: 80), Self.tp(3): Self.at(40, buffered: 50)],
                                 watermark: watermark + .hours(10))
        #expect(decision == .init(resume: [Self.tp(3)]), "half its share: resumed; one more than half: still paused")
        #expect(pacing.paused == [Self.tp(1)])
    }

    @Test func thePartitionHoldingTheWatermarkBackIsNeverPausedAndIsResumedAtOnce() {
        var pacing = BufferPacing(limit: 200)
        // Partition 0 holds the watermark (its own is the minimum); its buffer is full of events within the lateness.
        var decision = pacing.decide([Self.tp(0): Self.at(0, buffered: 5_000), Self.tp(1): Self.at(5, buffered: 5_000)],
                                     watermark: Self.start)
        #expect(decision == .init(pause: [Self.tp(1)]))
        // Partition 0 has overtaken partition 1, whose full buffer now holds the watermark back.
        decision = pacing.decide([Self.tp(0): Self.at(9, buffered: 5_000), Self.tp(1): Self.at(5, buffered: 5_000)],
                                 watermark: Self.start + .hours(5))
        #expect(decision == .init(pause: [Self.tp(0)], resume: [Self.tp(1)]))
        // A partition without events yet holds the watermark back too.
        decision = pacing.decide([Self.tp(0): Self.at(9, buffered: 5_000), Self.tp(2): .init(buffered: 0, localWatermark: nil)],
                                 watermark: .distantPast)
        #expect(decision.isEmpty)
        #expect(pacing.paused == [Self.tp(0)], "partition 1 is no longer assigned: forgotten")
    }

    /// Whatever the buffers and watermarks, a partition whose own watermark is the minimum stays readable: the
    /// watermark can always move.
    @Test func pacingNeverHoldsEveryPartitionThatCouldMoveTheWatermark() {
        var generator = SplitMix64(seed: 7)
        for round in 0..<2_000 {
            var pacing = BufferPacing(limit: Int(generator.next() % 2_000) + 1)
            for _ in 0..<4 {
                let count = Int(generator.next() % 8) + 1
                var partitions: [TopicPartition: BufferPacing.Partition] = [:]
                for p in 0..<count {
                    partitions[Self.tp(Int32(p))] = Self.at(Int(generator.next() % 50), buffered: Int(generator.next() % 3_000))
                }
                let minimum = partitions.values.compactMap(\.localWatermark).min()!
                _ = pacing.decide(partitions, watermark: minimum)
                let holding = partitions.filter { $0.value.localWatermark == minimum }.map(\.key)
                #expect(holding.allSatisfy { !pacing.paused.contains($0) }, "round \(round): \(holding) paused")
                #expect(pacing.paused.allSatisfy { partitions[$0]!.buffered > pacing.share(assigned: count) / 2 })
            }
        }
    }

    @Test func revokedPartitionsAreForgotten() {
        var pacing = BufferPacing(limit: 100)
        _ = pacing.decide([Self.tp(0): Self.at(0, buffered: 0), Self.tp(1): Self.at(5, buffered: 500)], watermark: Self.start)
        #expect(pacing.paused == [Self.tp(1)])
        pacing.forget([Self.tp(1)])
        #expect(pacing.paused.isEmpty)
    }
}

/// The daemon with a small buffer bound, one partition's events arriving slowly while the others' are all there:
/// the others are paused and resumed as the slow one moves the watermark, and the violations are the replay's.
/// The others stay paused for longer than `idle_timeout`: a resumed partition must not count as idle before its
/// next messages come, or the watermark would pass what it has not read yet.
@Suite(.serialized) struct PacedDaemonTests {
    @Test func partitionsAheadArePausedAndResumedAndTheViolationsAreTheReplays() async throws {
        let fixture = try DaemonFixture(extraKafka: "max_buffered_events: \"40\"",
                                        extraProperties: "max.partition.fetch.bytes: \"16384\"", idleTimeout: "1s")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (daemon, base) = try await fixture.startInProcess(logLevel: .warning)
        defer { daemon.cancel() }
        // Reading before the slow partition's events come.
        try await waitUntil("the partitions assigned", timeout: .seconds(30)) {
            PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "").sum("consentinel_assigned_partitions") == 4
        }

        let (lines, end) = fixture.traffic(events: 6_000, seed: 61)
        // Each customer's events in one partition, in the file's order.
        let byPartition = Dictionary(grouping: lines) { line -> Int32 in
            let subject = (try? JSONValue.parse(line))?["subject"].flatMap { v -> String? in
                if case .string(let s) = v { return s } else { return nil }
            } ?? line
            return Int32(subject.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFF } % fixture.partitions)
        }
        #expect(byPartition.count == 4 && byPartition.values.allSatisfy { $0.count > 1_000 })
        let producer = try Producer(configuration: ProducerConfiguration(bootstrapServers: [fixture.cluster.bootstrapServers]))
        func send(_ lines: ArraySlice<String>, to partition: Int32) async throws {
            var pending: [Delivery] = []
            for line in lines {
                pending.append(try producer.enqueue(topic: fixture.eventsTopic, key: nil, value: Array(line.utf8), partition: partition))
            }
            for delivery in pending { _ = try await delivery.report() }
        }
        // The slow partition's events come 50 at a time, about 6 s in all, never silent for as long as the idle
        // timeout, while the others' are sent at once.
        let slow = byPartition[0]!
        let trickle = Task {
            for start in stride(from: 0, to: slow.count, by: 50) {
                try await send(slow[start..<min(start + 50, slow.count)], to: 0)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        for p: Int32 in 1...3 { try await send(byPartition[p]![...], to: p) }
        try await trickle.value
        for p: Int32 in 0...3 {
            let tick = #"{"id":"tick-\#(p)","type":"collect","time":"\#(end.rfc3339)","subject":"tick-\#(p)","categories":["user.device"]}"#
            try await send([tick], to: p)
        }
        await producer.shutdown()

        _ = try fixture.replayIDs(lines, end: end)
        let expected = try String(contentsOf: fixture.directory.appendingPathComponent("replay-violations.jsonl"), encoding: .utf8)
            .split(separator: "\n").sorted()
        #expect(expected.count > 100)
        try? await waitUntil("every violation in the file", timeout: .seconds(90)) { fixture.fileIDs().count >= expected.count }
        let written = try String(contentsOf: fixture.violationsFile, encoding: .utf8).split(separator: "\n").sorted()
        #expect(written == expected, "\(Set(expected).subtracting(written).count) missing, \(Set(written).subtracting(expected).count) extra")

        let metrics = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
        #expect(metrics.sum("consentinel_partition_pauses_total") >= 3, "the partitions ahead were paused")
        #expect(metrics.sum("consentinel_partitions_paused_ahead") == 0, "and resumed once the watermark passed their events")
        #expect(metrics.sum("consentinel_late_events_total") == 0)
    }
}

/// A partition paused for longer than `idle_timeout` is not idle once resumed: until its next messages come it holds
/// the watermark, which would otherwise pass everything it has not read yet.
@Suite struct ResumedPartitionTests {
    static let topic = "events"
    static let start = Timestamp(rfc3339: "2026-01-10T00:00:00Z")!

    static func message(_ partition: Int32, _ offset: Int64, minutes: Int64) -> ConsumerMessage {
        let time = (start + .minutes(minutes)).rfc3339
        let line = #"{"id":"p\#(partition)-\#(offset)","type":"collect","time":"\#(time)","subject":"s\#(partition)","categories":["user.device"]}"#
        return ConsumerMessage(topic: topic, partition: partition, offset: offset, key: nil, value: Array(line.utf8))
    }

    @Test func aResumedPartitionHoldsTheWatermarkUntilItsNextMessagesCome() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStateStore(path: directory.appendingPathComponent("state.sqlite").path)
        var configuration = DaemonConfiguration(
            source: .init(bootstrapServers: "unused:9092", group: "g", topics: [Self.topic], properties: [:]),
            stateURL: "unused", violations: .init(), deadLetters: .init(), digests: .init(),
            httpHost: "127.0.0.1", httpPort: 0, idleTimeout: .milliseconds(500), maxOutboxDepth: 1_000, producerProperties: [:])
        configuration.maxBufferedEvents = 1
        var logger = Logger(label: "resumed-partition-test")
        logger.logLevel = .critical
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let processor = StreamProcessor(pipeline: pipeline, configuration: configuration, store: store, metrics: DaemonMetrics(),
                                        logger: logger)
        processor.sourcePartitionCounts = [Self.topic: 2]
        let p0 = TopicPartition(topic: Self.topic, partition: 0), p1 = TopicPartition(topic: Self.topic, partition: 1)
        _ = try await processor.assign([p0, p1])

        // Partition 1 reads 150 minutes ahead of partition 0: paused.
        try await processor.process(ConsumerBatch(messages: [Self.message(0, 0, minutes: 0)] + (0..<150).map {
            Self.message(1, Int64($0), minutes: Int64($0))
        }))
        #expect(processor.pace() == .init(pause: [p1]))
        // Paused for longer than the idle timeout, while partition 0 overtakes it: resumed, as it holds the watermark.
        try await Task.sleep(for: .milliseconds(700))
        try await processor.process(ConsumerBatch(messages: [Self.message(0, 1, minutes: 200)]))
        #expect(processor.pace() == .init(resume: [p1]))
        // Partition 0 reads on before partition 1's next messages come: the watermark stays behind partition 1's.
        try await processor.process(ConsumerBatch(messages: [Self.message(0, 2, minutes: 300)]))
        try await processor.process(ConsumerBatch(messages: [Self.message(1, 150, minutes: 150)]))
        #expect(processor.partitions[p1]?.engine.counters.late == 0, "partition 1's next event is not late")
        #expect(processor.partitions[p0]?.engine.watermark == Self.start + .minutes(150) - .minutes(5))
    }
}
