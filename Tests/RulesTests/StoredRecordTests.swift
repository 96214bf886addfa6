import Events
import Foundation
@testable import Rules
import Testing

/// Rules' state rows are binary; rows that earlier versions wrote as JSON are still read, and an engine restored
/// from them goes on to find what it would have found.
@Suite struct StoredRecordTests {
    /// A binary row as the JSON that versions before 2026-12-02 wrote for it (`JSONEncoder`, keys sorted).
    static func legacy(_ row: StateChange, _ pipeline: Pipeline) throws -> StateChange {
        guard let value = row.value else { return row }
        let decoder = JSONDecoder()
        let json: [UInt8]
        if row.namespace == "consent" {
            json = Engine.bytes(try DecisionList.read(value, decoder: decoder).records)
        } else if row.namespace.hasPrefix("rule:"), let rule = pipeline.rules.first(where: { "rule:" + $0.id == row.namespace }) {
            switch rule.spec {
            case .retention: json = Engine.bytes(try RetentionRecord.read(value, decoder: decoder))
            case .deadline: json = Engine.bytes(try DeadlineEvaluator.Clock.read(value, decoder: decoder))
            case .threshold: json = Engine.bytes(try ThresholdEvaluator.Window.read(value, decoder: decoder))
            default: return row
            }
        } else {
            return row
        }
        return StateChange(namespace: row.namespace, key: row.key, value: json)
    }

    @Test func rowsWrittenAsJSONByEarlierVersionsAreRead() throws {
        let (pipeline, events) = try EngineStateTests().events(seed: 4)
        let expected = EngineStateTests().straightThrough(pipeline, events)
        var store: [String: StateChange] = [:]
        var engine = Engine(pipeline: pipeline)
        engine.trackChanges()
        var ids: [String] = []
        var restored = false
        for (n, e) in events.enumerated() {
            engine.offer(e)
            ids += engine.drainViolations().map(\.id)
            for change in engine.takeStateChanges() { store["\(change.namespace)\u{0}\(change.key)"] = change }
            // Past the middle, once a bulk-access window is open.
            guard !restored, n >= events.count / 2, store.values.contains(where: { $0.namespace == "rule:bulk-access" && $0.value != nil })
            else { continue }
            restored = true
            let rows = store.values.filter { $0.value != nil }
            let converted = try rows.map { try Self.legacy($0, pipeline) }
            let kinds = Set(zip(rows, converted).filter { $0.0.value != $0.1.value }.map { $0.0.namespace })
            #expect(kinds.isSuperset(of: ["consent", "rule:erasure-deadline", "rule:retention-behavior", "rule:bulk-access"]))
            #expect(rows.filter { kinds.contains($0.namespace) }.allSatisfy { $0.value?.first == 1 }, "rows are written binary")
            #expect(converted.filter { kinds.contains($0.namespace) }.allSatisfy { [UInt8(ascii: "{"), UInt8(ascii: "[")].contains($0.value?.first) })
            engine = Engine(pipeline: pipeline)
            try engine.restore(converted)
            engine.trackChanges()
        }
        engine.finish()
        ids += engine.drainViolations().map(\.id)
        #expect(restored)
        #expect(ids.count == expected.count)
        #expect(Set(ids) == Set(expected))
    }

    @Test func aBinaryRowCutShortIsAnError() throws {
        let pipeline = try PipelineLoader().load(directory: EngineStateTests.pipelineDirectory)
        let clock = DeadlineEvaluator.Clock(deadline: Timestamp(microseconds: 5), startedBy: "e1", startedAt: Timestamp(microseconds: 1),
                                            subject: "ana", actor: nil, generation: 1)
        let decisions = DecisionList([DecisionRecord(time: Timestamp(microseconds: 1), purpose: "marketing", status: "granted",
                                                     source: "web", event: "c1")])
        for (namespace, bytes) in [("rule:erasure-deadline", clock.bytes), ("consent", decisions.bytes)] {
            #expect(throws: Never.self) { try Engine(pipeline: pipeline).restore([StateChange(namespace: namespace, key: "ana", value: bytes)]) }
            #expect(throws: RuleError.self, "\(namespace)") {
                try Engine(pipeline: pipeline).restore([StateChange(namespace: namespace, key: "ana", value: Array(bytes.dropLast()))])
            }
            #expect(throws: RuleError.self, "\(namespace): bytes after the record") {
                try Engine(pipeline: pipeline).restore([StateChange(namespace: namespace, key: "ana", value: bytes + [0])])
            }
        }
    }
}
