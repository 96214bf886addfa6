@testable import Daemon
import Events
import Foundation
import Kafka
import Processing
import Rules
import Storage
import Testing

/// What a batch's transaction holds. At a checkpoint, only the partitions the batch read or whose state it changed: a
/// partition with nothing new gets no claim and no rows (not even its engine's clock), so another instance having
/// taken it over since does not fence batches that never touch it. Between checkpoints, only the outputs.
@Suite struct BatchCommitTests {
    static let topic = MonthClosingTests.topic
    static let tp = TopicPartition(topic: topic, partition: 0)

    /// The default pipeline and a SQLite store in `dir`.
    static func open(in dir: URL) async throws -> (Pipeline, any StateStore) {
        (try PipelineLoader().load(directory: Fixtures.defaultPipeline),
         try await StateStores.open(url: dir.appendingPathComponent("state.db").path))
    }

    static func message(_ partition: Int32, offset: Int64, id: String, time: String) -> ConsumerMessage {
        let line = #"{"id":"\#(id)","type":"use","time":"\#(time)","subject":"s\#(partition)","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#
        return ConsumerMessage(topic: topic, partition: partition, offset: offset, key: Array("s\(partition)".utf8), value: Array(line.utf8))
    }

    @Test func aPartitionTheBatchDidNotTouchIsLeftOutOfItsCommit() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (pipeline, store) = try await Self.open(in: dir)
        let partitions = [0, 1].map { TopicPartition(topic: Self.topic, partition: $0) }
        let a = MonthClosingTests.processor(pipeline, store, checkpointInterval: .zero)
        _ = try await a.assign(partitions)
        try await a.process(ConsumerBatch(messages: [
            Self.message(0, offset: 0, id: "a0", time: "2026-01-10T10:00:00Z"),
            Self.message(1, offset: 0, id: "a1", time: "2026-01-10T10:00:00Z"),
        ]))

        // Another instance takes partition 1 over: a's claim on it is stale from now on.
        let b = MonthClosingTests.processor(pipeline, store, checkpointInterval: .zero)
        _ = try await b.assign([partitions[1]])
        let taken = try await store.claim(PartitionID(topic: Self.topic, partition: 1), pipeline: pipeline.name)

        try await a.process(ConsumerBatch(messages: [Self.message(0, offset: 1, id: "b0", time: "2026-01-10T10:01:00Z")]))
        // The check can fail: a batch that does read partition 1 is fenced.
        await #expect(throws: StorageError.self) {
            try await a.process(ConsumerBatch(messages: [Self.message(1, offset: 1, id: "b1", time: "2026-01-10T10:02:00Z")]))
        }

        let zero = try await store.claim(PartitionID(topic: Self.topic, partition: 0), pipeline: pipeline.name)
        #expect(zero.nextOffset == 2, "partition 0's batch committed")
        let one = try await store.claim(PartitionID(topic: Self.topic, partition: 1), pipeline: pipeline.name)
        #expect(one.nextOffset == 1)
        #expect(one.state.map(\.key) == taken.state.map(\.key) && one.state.map(\.value) == taken.state.map(\.value),
                "partition 1's rows are as the new owner found them")
        await store.close()
    }

    /// An intern reading a customer's contact data: the default pipeline's role rule finds a violation.
    static func access(offset: Int64) -> ConsumerMessage {
        let line = #"{"id":"acc-\#(offset)","type":"access","time":"2026-01-10T10:0\#(offset):00Z","subject":"s0","actor":"mallory@corp","role":"intern","system":"support-desk","purpose":"analytics","categories":["user.contact"]}"#
        return ConsumerMessage(topic: topic, partition: 0, offset: offset, key: Array("s0".utf8), value: Array(line.utf8))
    }

    @Test func betweenCheckpointsABatchWritesItsOutputsAndARestartReadsItsMessagesAgainWithoutAddingAnOutputTwice() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (pipeline, store) = try await Self.open(in: dir)
        let tp = Self.tp
        let sink = DaemonConfiguration.Sink(file: dir.appendingPathComponent("violations.jsonl").path)
        let a = MonthClosingTests.processor(pipeline, store, checkpointInterval: .seconds(3_600), violations: sink)
        _ = try await a.assign([tp])
        try await a.process(ConsumerBatch(messages: [Self.message(0, offset: 0, id: "first", time: "2026-01-10T09:00:00Z")]))
        #expect(a.partitions[tp]?.storedOffset == 1, "a partition's first batch is a checkpoint")

        // The last event moves the watermark past the others, which the engine then releases.
        let later = (1...3).map { Self.access(offset: Int64($0)) } + [Self.message(0, offset: 4, id: "last", time: "2026-01-11T09:00:00Z")]
        try await a.process(ConsumerBatch(messages: later))
        let outputs = try await store.unsentOutbox(limit: 1_000).map(\.id).sorted()
        #expect(!outputs.isEmpty, "the batch's violations are stored at once")
        #expect(a.partitions[tp]?.storedOffset == 1 && a.partitions[tp]?.consumedOffset == 5, "its offset waits for the checkpoint")

        // Another instance (or this one after a crash) starts from the checkpoint and processes the batch again: it
        // finds the same outputs (published and pruned meanwhile, so that it is their finding that is counted), and an
        // id the outbox holds is not added again.
        try await store.markSent(outputs)
        _ = try await store.pruneSent(before: Date().addingTimeInterval(60))
        #expect(try await store.unsentOutbox(limit: 1_000).isEmpty)
        let b = MonthClosingTests.processor(pipeline, store, checkpointInterval: .seconds(3_600), violations: sink)
        let seeks = try await b.assign([tp])
        #expect(seeks.map(\.offset) == [1])
        try await b.process(ConsumerBatch(messages: later))
        #expect(try await store.unsentOutbox(limit: 1_000).map(\.id).sorted() == outputs, "the same outputs")
        let again = MonthClosingTests.processor(pipeline, store, checkpointInterval: .seconds(3_600), violations: sink)
        _ = try await again.assign([tp])
        try await again.process(ConsumerBatch(messages: later))
        #expect(try await store.unsentOutbox(limit: 1_000).map(\.id).sorted() == outputs, "none twice")
        #expect(again.partitions[tp]?.storedOffset == 1)

        try await again.tick()
        #expect(again.partitions[tp]?.storedOffset == 5, "an idle tick writes the checkpoint")
        let c = MonthClosingTests.processor(pipeline, store)
        #expect(try await c.assign([tp]).map(\.offset) == [5])
        await store.close()
    }

    /// A reload rebuilds the engines from the store while the consumer goes on from where it is: it writes a
    /// checkpoint first, so that nothing processed since the last one is lost to the new engines.
    @Test func aReloadKeepsWhatWasProcessedSinceTheLastCheckpoint() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (pipeline, store) = try await Self.open(in: dir)
        let tp = Self.tp
        let a = MonthClosingTests.processor(pipeline, store, checkpointInterval: .seconds(3_600))
        _ = try await a.assign([tp])
        try await a.process(ConsumerBatch(messages: [Self.message(0, offset: 0, id: "first", time: "2026-01-10T09:00:00Z")]))
        let fresh = #"{"id":"fresh","type":"use","time":"2026-01-10T10:05:00Z","subject":"fresh","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#
        try await a.process(ConsumerBatch(messages: [
            ConsumerMessage(topic: Self.topic, partition: 0, offset: 1, key: nil, value: Array(fresh.utf8)),
            Self.message(0, offset: 2, id: "last", time: "2026-01-11T09:00:00Z"),
        ]))
        #expect(a.partitions[tp]?.storedOffset == 1 && a.partitions[tp]?.digests.holds("fresh", in: "2026-01") == true)

        try await a.reload(pipeline)
        #expect(a.partitions[tp]?.storedOffset == 3, "the reload wrote the checkpoint and rebuilt the engine from it")
        #expect(a.partitions[tp]?.digests.holds("fresh", in: "2026-01") == true, "the rebuilt digests know the batch's events")
        await store.close()
    }

    /// Revoked partitions are checkpointed on their own: when another instance has claimed one already, that checkpoint
    /// is fenced, and the partitions this instance keeps still have all their changes for their next checkpoint.
    @Test func aFencedCheckpointOfRevokedPartitionsCostsTheOthersNothing() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (pipeline, store) = try await Self.open(in: dir)
        let partitions = [0, 1].map { TopicPartition(topic: Self.topic, partition: $0) }
        let a = MonthClosingTests.processor(pipeline, store, checkpointInterval: .seconds(3_600))
        _ = try await a.assign(partitions)
        try await a.process(ConsumerBatch(messages: [
            Self.message(0, offset: 0, id: "a0", time: "2026-01-10T09:00:00Z"),
            Self.message(1, offset: 0, id: "a1", time: "2026-01-10T09:00:00Z"),
        ]))
        let fresh = #"{"id":"fresh","type":"use","time":"2026-01-10T10:05:00Z","subject":"fresh","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#
        try await a.process(ConsumerBatch(messages: [
            ConsumerMessage(topic: Self.topic, partition: 0, offset: 1, key: nil, value: Array(fresh.utf8)),
            Self.message(0, offset: 2, id: "b0", time: "2026-01-11T09:00:00Z"),
            Self.message(1, offset: 1, id: "b1", time: "2026-01-11T09:00:00Z"),
        ]))

        _ = try await MonthClosingTests.processor(pipeline, store).assign([partitions[1]])
        await #expect(throws: StorageError.self) { try await a.checkpoint(only: [partitions[1]]) }
        a.revoke([partitions[1]])
        try await a.checkpoint()

        let next = MonthClosingTests.processor(pipeline, store)
        #expect(try await next.assign([partitions[0]]).map(\.offset) == [3])
        #expect(next.partitions[partitions[0]]?.digests.holds("fresh", in: "2026-01") == true, "partition 0's changes were kept")
        await store.close()
    }
}
