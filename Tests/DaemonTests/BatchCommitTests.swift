@testable import Daemon
import Events
import Foundation
import Kafka
import Processing
import Rules
import Storage
import Testing

/// A batch's transaction holds only the partitions the batch read or whose state it changed: a partition with nothing
/// new gets no claim and no rows (not even its engine's clock), so another instance having taken it over since does
/// not fence batches that never touch it.
@Suite struct BatchCommitTests {
    static let topic = MonthClosingTests.topic

    static func message(_ partition: Int32, offset: Int64, id: String, time: String) -> ConsumerMessage {
        let line = #"{"id":"\#(id)","type":"use","time":"\#(time)","subject":"s\#(partition)","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#
        return ConsumerMessage(topic: topic, partition: partition, offset: offset, key: Array("s\(partition)".utf8), value: Array(line.utf8))
    }

    @Test func aPartitionTheBatchDidNotTouchIsLeftOutOfItsCommit() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let partitions = [0, 1].map { TopicPartition(topic: Self.topic, partition: $0) }
        let a = MonthClosingTests.processor(pipeline, store)
        _ = try await a.assign(partitions)
        try await a.process(ConsumerBatch(messages: [
            Self.message(0, offset: 0, id: "a0", time: "2026-01-10T10:00:00Z"),
            Self.message(1, offset: 0, id: "a1", time: "2026-01-10T10:00:00Z"),
        ]))

        // Another instance takes partition 1 over: a's claim on it is stale from now on.
        let b = MonthClosingTests.processor(pipeline, store)
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
}
