import Events
import Foundation
import Processing
import Rules
import Testing

/// The repartition step without Kafka or a store: events split over lanes by subject, keyed rules fed from the lanes'
/// inbox rows in key order, find what one engine over all events finds.
@Suite struct RepartitioningTests {
    static let pipelineDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("pipelines/default").path

    static func layout(_ pipeline: Pipeline, partitions: Int32 = 6, counts: [String: Int] = ["events": 6]) -> KeyedLayout {
        KeyedLayout(pipeline: pipeline.name, rules: pipeline.repartitionedRules, partitions: partitions, partitionCounts: counts)
    }

    @Test func keysHashToTheSameTasksInEveryVersion() throws {
        let pipeline = try PipelineLoader().load(directory: Self.pipelineDirectory)
        let layout = Self.layout(pipeline)
        // FNV-1a 64 of the key's bytes, modulo the task count: stored state depends on these never changing.
        #expect(layout.task(ofKey: "exporter@corp") == Int32(truncatingIfNeeded: Self.fnv1a("exporter@corp") % 6))
        #expect(["alice@corp", "bob@corp", "", "jürgen"].map(layout.task(ofKey:)) == ["alice@corp", "bob@corp", "", "jürgen"].map {
            Int32(truncatingIfNeeded: Self.fnv1a($0) % 6)
        })
        #expect(Self.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(Self.fnv1a("a") == 0xaf63_dc4c_8601_ec8c, "the published FNV-1a 64 value of \"a\"")
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    @Test func tasksFollowTheLeaderTopicsPartitions() throws {
        let pipeline = try PipelineLoader().load(directory: Self.pipelineDirectory)
        let layout = Self.layout(pipeline, partitions: 4, counts: ["small": 2, "big": 4])
        #expect(layout.leaderTopic == "big")
        #expect(layout.sources.map(\.description) == ["big[0]", "big[1]", "big[2]", "big[3]", "small[0]", "small[1]"])
        let owned = layout.tasks(with: [SourcePartition(topic: "big", partition: 3), SourcePartition(topic: "small", partition: 0)])
        #expect(owned == [KeyedTaskID(rule: "bulk-access", partition: 3)])
        #expect(layout.allTasks.count == 4)
        #expect(KeyedTaskID(rule: "bulk-access", partition: 3).storeTopic == "repartition:bulk-access")
    }

    @Test func inboxKeysSortAsEventTimeThenSourceThenSequence() {
        let times = [Timestamp(rfc3339: "1969-12-31T23:59:59Z")!, Timestamp(rfc3339: "2026-01-01T00:00:00Z")!,
                     Timestamp(rfc3339: "2026-01-01T00:00:00.000001Z")!]
        var keys: [(String, Timestamp, Int, UInt64)] = []
        for t in times {
            for source in [0, 7] {
                for seq in [UInt64(2), 10] { keys.append((KeyedSpace.inboxKey(time: t, source: source, sequence: seq), t, source, seq)) }
            }
        }
        let byBytes = keys.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let byMeaning = keys.sorted { ($0.1, $0.2, $0.3) < ($1.1, $1.2, $1.3) }
        #expect(byBytes.map(\.0) == byMeaning.map(\.0))
        for (key, time, _, _) in keys {
            #expect(KeyedSpace.time(ofInboxKey: key) == time)
            #expect(key < KeyedSpace.inboxBound(Timestamp(microseconds: time.microseconds + 1)) && !(key < KeyedSpace.inboxBound(time)))
        }
    }

    @Test func aForwarderSendsOnlyWhatAKeyedRuleUsesAndKeepsItsSequence() throws {
        let pipeline = try PipelineLoader().load(directory: Self.pipelineDirectory)
        let layout = Self.layout(pipeline)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        func event(_ json: String) throws -> Event { try decoder.decode(json).get() }
        let forwarder = KeyedForwarder(layout: layout, source: SourcePartition(topic: "events", partition: 2), restoring: [])
        forwarder.forward(try event(#"{"id":"a1","type":"access","time":"2026-01-01T10:00:00Z","subject":"c1","actor":"x@corp","role":"support","purpose":"essential.service.operations.support","categories":["user.name"]}"#))
        forwarder.forward(try event(#"{"id":"u1","type":"use","time":"2026-01-01T10:00:01Z","subject":"c1","actor":"svc","purpose":"analytics","categories":["user.name"]}"#))
        let taken = forwarder.take()
        #expect(taken.inbox.count == 1, "bulk-access uses access events only")
        let row = try #require(taken.inbox.first)
        #expect(row.namespace == "keyed-inbox:\(pipeline.name):bulk-access:\(layout.task(ofKey: "x@corp"))")
        #expect(row.key == KeyedSpace.inboxKey(time: Timestamp(rfc3339: "2026-01-01T10:00:00Z")!, source: 2, sequence: 1))
        #expect(taken.state == [StateChange(namespace: KeyedForwarder.stateNamespace, key: "sequence", value: Array("1".utf8))])
        #expect(forwarder.take().inbox.isEmpty)

        let restored = KeyedForwarder(layout: layout, source: SourcePartition(topic: "events", partition: 2), restoring: taken.state)
        restored.forward(try event(#"{"id":"a2","type":"access","time":"2026-01-01T10:00:02Z","subject":"c2","actor":"x@corp","role":"support","purpose":"essential.service.operations.support","categories":["user.name"]}"#))
        #expect(restored.take().inbox.first?.key.hasSuffix("000000000002") == true, "numbering goes on after a restart")
    }

    /// Generated traffic with bulk exports split by subject over six lanes: the lanes' engines run the rules keyed by
    /// subject and forward; the keyed engines read the inbox in key order. Together they find what one engine finds.
    @Test func lanesAndKeyedTasksFindWhatOneEngineFinds() throws {
        let pipeline = try PipelineLoader().load(directory: Self.pipelineDirectory)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        let events = EventGenerator(.init(events: 12_000, subjects: 600, seed: 9, months: 1, invalidRate: 0, duplicateRate: 0,
                                          bulkExportEvery: 1_000, bulkExportWindow: .minutes(10)))
            .compactMap { try? decoder.decode($0).get() }
        let one = Engine(pipeline: pipeline)
        var expected: [String] = []
        for e in events {
            one.offer(e)
            expected += one.drainViolations().map(\.json.serialized)
        }
        one.finish()
        expected += one.drainViolations().map(\.json.serialized)
        #expect(expected.filter { $0.contains(#""rule":"bulk-access""#) }.count >= 8)

        let layout = Self.layout(pipeline)
        var found: [String] = []
        var inbox: [String: [StateChange]] = [:]
        for lane in 0..<6 {
            let engine = Engine(pipeline: pipeline.restricted { $0.repartitionKey == nil })
            let forwarder = KeyedForwarder(layout: layout, source: SourcePartition(topic: "events", partition: Int32(lane)), restoring: [])
            let observer = LaneObserver(digests: DigestBook(), forwarder: forwarder)
            engine.observer = observer
            for e in events where Int(layout.task(ofKey: e.subject)) == lane { engine.offer(e) }
            engine.finish(until: one.maxEventTime)
            found += engine.drainViolations().map(\.json.serialized)
            for row in forwarder.take().inbox { inbox[row.namespace, default: []].append(row) }
        }
        for (_, rows) in inbox {
            let engine = Engine(pipeline: pipeline.restricted { $0.repartitionKey != nil })
            let ordered = rows.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { row in try! decoder.decode(row.value!).get() }
            engine.process(ordered: ordered, through: one.maxEventTime!)
            engine.finish(until: one.maxEventTime)
            found += engine.drainViolations().map(\.json.serialized)
        }
        #expect(found.count == expected.count)
        #expect(Set(found) == Set(expected))
    }
}
