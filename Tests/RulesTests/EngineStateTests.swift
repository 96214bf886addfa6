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

/// A retention clock restarted by every collect leaves its earlier timer behind; those are dropped as they pile up,
/// and the clock's own timer still fires.
@Suite struct StaleTimerTests {
    @Test func restartedRetentionClocksDoNotPileUpTimersAndTheLastOneStillFires() throws {
        let pipeline = try PipelineLoader().load(directory: EngineStateTests.pipelineDirectory)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        let engine = Engine(pipeline: pipeline)
        let start = try #require(Timestamp(rfc3339: "2026-01-01T00:00:00Z"))
        var found: [Violation] = []
        var most = 0
        let collects = 70_000
        for i in 0..<collects {
            let time = start + .minutes(Int64(i))
            let line = #"{"id":"c-\#(i)","type":"collect","time":"\#(time.rfc3339)","subject":"s-1","categories":["user.behavior"]}"#
            guard case .success(let event) = decoder.decode(Array(line.utf8)) else { Issue.record("not an event: \(line)"); return }
            engine.offer(event)
            found += engine.drainViolations()
            most = max(most, engine.pendingTimers)
        }
        #expect(found.isEmpty, "no clock ran out within the run")
        #expect(most <= 65_536 + 1, "timers pending at most: \(most) after \(collects) collects")
        engine.finish(until: start + .minutes(Int64(collects)) + .days(366))
        found += engine.drainViolations()
        let overdue = found.filter { $0.rule == "retention-behavior" }
        #expect(overdue.count == 1, "\(found.map(\.id))")
        #expect(overdue.first?.event == "c-\(collects - 1)", "the last collect's clock is the one that runs out")
    }
}

/// The event-time buffer's rows: each buffered event is written once and deleted once processed, however the engine
/// was started; an event buffered and processed between two checkpoints is never written.
@Suite struct BufferRowTests {
    let pipeline: Pipeline
    let decoder: EventDecoder

    init() throws {
        pipeline = try PipelineLoader().load(directory: EngineStateTests.pipelineDirectory)
        decoder = EventDecoder(taxonomy: pipeline.taxonomy)
    }

    func consent(_ id: String, _ time: String) throws -> Event {
        let line = #"{"id":"\#(id)","type":"consent","time":"\#(time)","subject":"ana","purpose":"marketing","status":"granted","source":"web"}"#
        return try decoder.decode(line).get()
    }

    func bufferRows(_ changes: [StateChange]) -> [String: Bool] {
        Dictionary(uniqueKeysWithValues: changes.filter { $0.namespace == "buffer" }.map { ($0.key, $0.value != nil) })
    }

    @Test func rowsFollowTheBufferAcrossARestore() throws {
        let first = Engine(pipeline: pipeline)
        first.offer(try consent("a", "2026-01-01T00:00:00Z"))
        first.offer(try consent("b", "2026-01-01T00:00:01Z"))
        // Buffered before changes were tracked: written by the first checkpoint.
        first.trackChanges()
        let written = first.takeStateChanges()
        #expect(bufferRows(written) == ["1": true, "2": true])

        let second = Engine(pipeline: pipeline)
        try second.restore(written.filter { $0.value != nil })
        second.trackChanges()
        #expect(bufferRows(second.takeStateChanges()).isEmpty, "restored events are in the store already")

        // Ten minutes later the restored events are processed (lateness 5m): their rows go; the new one is written
        // under a number of its own.
        second.offer(try consent("c", "2026-01-01T00:10:00Z"))
        #expect(bufferRows(second.takeStateChanges()) == ["1": false, "2": false, "3": true])

        // Buffered and processed between two checkpoints: no row at all.
        second.offer(try consent("d", "2026-01-01T00:10:01Z"))
        second.offer(try consent("e", "2026-01-01T00:30:00Z"))
        #expect(bufferRows(second.takeStateChanges()) == ["3": false, "5": true])
    }
}
