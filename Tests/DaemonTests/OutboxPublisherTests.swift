import Alerts
@testable import Daemon
import Foundation
import Logging
import ServiceLifecycle
import Storage
import Testing

/// The publisher takes the rows this process's commits hand over, and leases the rest (rows from before it started,
/// rows of other instances): every row is published once, whichever way it came.
@Suite struct OutboxPublisherTests {
    static func row(_ id: String, to path: String) -> OutboxRow {
        OutboxRow(id: id, kind: "violation", topic: "file:" + path, key: nil, value: Array(#"{"id":"\#(id)"}"#.utf8))
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Runs the publisher as the daemon does: in a service group, whose graceful shutdown tells it to finish.
    static func start(_ publisher: OutboxPublisher) -> (ServiceGroup, Task<Void, Error>) {
        let group = ServiceGroup(configuration: .init(services: [.init(service: publisher)], logger: Logger(label: "test")))
        return (group, Task { try await group.run() })
    }

    @Test func everyRowIsPublishedOnceWhetherHandedOverOrLeased() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let path = dir.appendingPathComponent("violations.jsonl").path
        // Stored before the publisher started (a restart): free, found by a lease round.
        try await store.commit(BatchCommit(outbox: (0..<5).map { Self.row("old-\($0)", to: path) }), pipeline: "p")

        // Lease rounds every few milliseconds, so that they run between hand-overs all the time.
        let publisher = OutboxPublisher(store: store, producer: nil, metrics: DaemonMetrics(), logger: Logger(label: "test"),
                                        lease: .seconds(60), leaseEvery: .milliseconds(2))
        let (group, running) = Self.start(publisher)
        var ids = (0..<5).map { "old-\($0)" }
        for batch in 0..<60 {
            let rows = (0..<25).map { Self.row("b\(batch)-\($0)", to: path) }
            // A batch processed again after a crash stores nothing new: its ids are in the outbox already.
            try await store.commit(BatchCommit(outbox: rows + (batch > 0 ? [Self.row("b\(batch - 1)-0", to: path)] : [])), pipeline: "p")
            ids += rows.map(\.id)
            if batch % 10 == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while Self.lines(path).count < ids.count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        await group.triggerGracefulShutdown()
        try await running.value

        let published = Self.lines(path)
        #expect(published.count == ids.count, "each row once: \(published.count) lines for \(ids.count) rows")
        #expect(Set(published) == Set(ids.map { #"{"id":"\#($0)"}"# }))
        // Handed-over rows come in commit order.
        let handed = published.filter { !$0.contains("old-") }
        #expect(handed == ids.filter { !$0.hasPrefix("old-") }.map { #"{"id":"\#($0)"}"# })
        #expect(try await store.outboxDepth() == 0, "every row marked sent")
        await store.close()
    }

    @Test func rowsHandedOverAndNotYetSentArePublishedWhenThePublisherFinishes() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let path = dir.appendingPathComponent("violations.jsonl").path
        let publisher = OutboxPublisher(store: store, producer: nil, metrics: DaemonMetrics(), logger: Logger(label: "test"))
        store.outboxSignal.accept(OutboxSignal.HandOver(owner: publisher.handOverOwner, lease: .seconds(60), capacity: 100))
        try await store.commit(BatchCommit(outbox: [Self.row("a", to: path), Self.row("b", to: path)]), pipeline: "p")
        #expect(try await store.leaseOutbox(limit: 10, owner: "other", for: .seconds(60)).isEmpty, "stored leased to the publisher")

        var files: [String: JSONLAppender] = [:]
        var unmarked: [Int64] = []
        var waiting = OutboxPublisher.Waiting()
        try await publisher.finish(files: &files, unmarked: &unmarked, waiting: &waiting)
        #expect(Self.lines(path) == [#"{"id":"a"}"#, #"{"id":"b"}"#])
        #expect(try await store.outboxDepth() == 0)

        // Rows stored once it finished are free: the next publisher's first lease round takes them at once.
        try await store.commit(BatchCommit(outbox: [Self.row("c", to: path)]), pipeline: "p")
        #expect(store.outboxSignal.takeHandedOver().isEmpty)
        #expect(try await store.leaseOutbox(limit: 10, owner: "next", for: .seconds(60)).map(\.id) == ["c"])
        await store.close()
    }

    /// More rows fail than a round holds, while lease rounds keep finding this publisher's own failed rows: once the
    /// sink works again, each row is in the file once.
    @Test func rowsThatFailedArePublishedOnceWhenTheSinkWorksAgain() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        // The sink's folder cannot be created while a file stands in its place.
        let blocker = dir.appendingPathComponent("out")
        try Data("not a folder".utf8).write(to: blocker)
        let path = blocker.appendingPathComponent("violations.jsonl").path

        let publisher = OutboxPublisher(store: store, producer: nil, metrics: DaemonMetrics(), logger: Logger(label: "test"),
                                        lease: .seconds(60), leaseEvery: .milliseconds(2))
        let (group, running) = Self.start(publisher)
        try await store.commit(BatchCommit(outbox: (0..<1_000).map { Self.row("handed-\($0)", to: path) }), pipeline: "p")
        try await Task.sleep(for: .milliseconds(300))
        // As when the hand-over is full: later rows are stored free, and the publisher's lease rounds take them, so
        // that its own leased rows come after the handed-over ones in the outbox.
        #expect(store.outboxSignal.refuse().isEmpty, "the publisher took the handed-over rows")
        try await store.commit(BatchCommit(outbox: (0..<1_500).map { Self.row("free-\($0)", to: path) }), pipeline: "p")
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try await store.outboxDepth() == 2_500, "nothing published while the sink fails")

        try FileManager.default.removeItem(at: blocker)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await store.outboxDepth() > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        let published = Self.lines(path)
        #expect(published.count == 2_500, "each row once: \(published.count) lines")
        #expect(Set(published).count == 2_500)
        #expect(try await store.outboxDepth() == 0)
        await store.close()
    }
}
