@testable import Daemon
import Events
import Foundation
import Kafka
import Processing
import Rules
import Storage
import Testing

/// A keyed task reads its inbox a bounded number of rows at a time; rows hold the events a source partition sent
/// between two checkpoints, so the rows read may all begin at the time the bound stops at.
@Suite struct KeyedInboxTests {
    /// Five rows, each an access at 10:00 and one at 11:00, and a task that reads three rows at a time: the bound
    /// stops at 10:00, before which none of them holds anything, so the task reads them all and moves on.
    @Test func rowsThatAllBeginWhereTheReadStopsAreReadWhole() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let processor = MonthClosingTests.processor(pipeline, store)
        processor.keyedReadLimit = 3
        _ = try await processor.assign((0..<4).map { TopicPartition(topic: MonthClosingTests.topic, partition: $0) })
        let layout = try #require(processor.keyed?.layout)
        let actor = "exporter@corp"
        let task = KeyedTaskID(rule: "bulk-access", partition: layout.task(ofKey: actor))
        let inbox = KeyedSpace.inbox(pipeline.name, task)
        func access(_ n: Int, _ time: String) -> [UInt8] {
            Array(#"{"id":"a-\#(n)-\#(time)","type":"access","time":"2026-01-05T\#(time):00Z","subject":"c\#(n)","actor":"\#(actor)","role":"support","purpose":"essential.service.operations.support","categories":["user.name"]}"#.utf8)
        }
        let ten = try #require(Timestamp(rfc3339: "2026-01-05T10:00:00Z")), eleven = try #require(Timestamp(rfc3339: "2026-01-05T11:00:00Z"))
        var rows: [StateRow] = (0..<5).map { n in
            StateRow(KeyedInbox.row(namespace: inbox, [
                KeyedInbox.Entry(time: ten, source: n % 4, sequence: UInt64(2 * n + 1), json: access(n, "10:00")),
                KeyedInbox.Entry(time: eleven, source: n % 4, sequence: UInt64(2 * n + 2), json: access(n, "11:00")),
            ]))
        }
        let noon = try #require(Timestamp(rfc3339: "2026-01-05T12:00:00Z"))
        rows += layout.sources.map { StateRow(namespace: KeyedSpace.watermarks(pipeline.name), key: $0.description, value: KeyedSpace.micros(noon)) }
        try await store.commit(BatchCommit(global: rows), pipeline: pipeline.name)

        try await processor.runKeyedTasks()
        #expect(try await store.loadGlobal(namespace: inbox).isEmpty, "every event before noon taken")
        #expect(processor.keyed?.tasks[task]?.through == noon.microseconds, "the task moved on to the sources' watermark")
        let progress = try await store.loadGlobal(namespace: KeyedSpace.progress(pipeline.name), key: task.description)
        #expect(KeyedSpace.timestamp(progress) == noon)
    }
}
