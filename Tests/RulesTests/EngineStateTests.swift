import Events
import Foundation
import Rules
import Testing

/// The engine's state survives being written out as rows and loaded into a new engine: stopping at any point and
/// resuming from the stored rows gives the same violations as running straight through.
@Suite struct EngineStateTests {
    static let pipelineDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("pipelines/default").path

    func events(seed: UInt64) throws -> (Pipeline, [Event]) {
        let pipeline = try PipelineLoader().load(directory: Self.pipelineDirectory)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        let lines = EventGenerator(.init(events: 12_000, subjects: 150, seed: seed, months: 3, invalidRate: 0))
        let events = lines.compactMap { line -> Event? in
            if case .success(let e) = decoder.decode(line) { return e }
            return nil
        }
        return (pipeline, events)
    }

    func straightThrough(_ pipeline: Pipeline, _ events: [Event]) -> [String] {
        let engine = Engine(pipeline: pipeline)
        var ids: [String] = []
        for e in events {
            engine.offer(e)
            ids += engine.drainViolations().map(\.id)
        }
        engine.finish()
        return ids + engine.drainViolations().map(\.id)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func resumingFromStoredRowsGivesTheSameViolations(seed: UInt64) throws {
        let (pipeline, events) = try events(seed: seed)
        let expected = straightThrough(pipeline, events)
        #expect(expected.count > 500)

        var store: [String: StateChange] = [:]
        var rng = SplitMix64(seed: seed)
        var engine = Engine(pipeline: pipeline)
        engine.trackChanges()
        var ids: [String] = []
        var restarts = 0
        for e in events {
            engine.offer(e)
            ids += engine.drainViolations().map(\.id)
            for change in engine.takeStateChanges() { store["\(change.namespace)\u{0}\(change.key)"] = change }
            if rng.next() % 700 == 0 {
                let rows = store.values.filter { $0.value != nil }
                engine = Engine(pipeline: pipeline)
                try engine.restore(Array(rows))
                engine.trackChanges()
                restarts += 1
            }
        }
        engine.finish()
        ids += engine.drainViolations().map(\.id)
        #expect(restarts >= 5)
        #expect(Set(ids) == Set(expected))
        #expect(ids.count == expected.count)
    }

    @Test func unreadableRowsAreReportedNotIgnored() throws {
        let pipeline = try PipelineLoader().load(directory: Self.pipelineDirectory)
        let engine = Engine(pipeline: pipeline)
        #expect(throws: RuleError.self) {
            try engine.restore([StateChange(namespace: "rule:erasure-deadline", key: "ana", value: Array("{".utf8))])
        }
        #expect(throws: RuleError.self) {
            try engine.restore([StateChange(namespace: "buffer", key: "1", value: Array(#"{"id":"x"}"#.utf8))])
        }
    }
}
