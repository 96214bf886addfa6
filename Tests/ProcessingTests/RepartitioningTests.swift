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
    /// subject and forward, their rows taken every 700 events as at checkpoints; the keyed engines take their inbox
    /// in five runs to rising targets, as the daemon's tasks do, rows partly taken written back. Together they find
    /// what one engine finds.
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
        var inbox: [String: [String: [UInt8]]] = [:]
        var rowsWritten = 0
        for lane in 0..<6 {
            let engine = Engine(pipeline: pipeline.restricted { $0.repartitionKey == nil })
            let forwarder = KeyedForwarder(layout: layout, source: SourcePartition(topic: "events", partition: Int32(lane)), restoring: [])
            let observer = LaneObserver(digests: DigestBook(), forwarder: forwarder)
            engine.observer = observer
            func checkpoint() {
                for row in forwarder.take().inbox {
                    #expect(inbox[row.namespace]?[row.key] == nil, "an inbox key is never reused")
                    inbox[row.namespace, default: [:]][row.key] = row.value
                    rowsWritten += 1
                }
            }
            for (n, e) in events.filter({ Int(layout.task(ofKey: $0.subject)) == lane }).enumerated() {
                engine.offer(e)
                if n % 700 == 699 { checkpoint() }
            }
            engine.finish(until: one.maxEventTime)
            checkpoint()
            found += engine.drainViolations().map(\.json.serialized)
        }
        let end = try #require(one.maxEventTime)
        let start = try #require(events.map(\.time).min())
        let step = (end.microseconds - start.microseconds) / 5
        var partlyTaken = 0
        for (namespace, var rows) in inbox {
            let engine = Engine(pipeline: pipeline.restricted { $0.repartitionKey != nil })
            engine.advancesOwnWatermark = false
            for run in 1...5 {
                // The last run takes everything: its target is past the last event.
                let target = run == 5 ? Timestamp(microseconds: end.microseconds + 1) : Timestamp(microseconds: start.microseconds + step * Int64(run))
                let read = rows.filter { $0.key < KeyedSpace.inboxBound(target) }
                    .map { StateChange(namespace: namespace, key: $0.key, value: $0.value) }
                let taken = try #require(KeyedInbox.take(read, before: target))
                for write in taken.writes {
                    if write.value == nil { rows[write.key] = nil } else { rows[write.key] = write.value; partlyTaken += 1 }
                }
                engine.process(ordered: taken.due.map { try! decoder.decode($0.json).get() }, through: run == 5 ? end : target)
            }
            #expect(rows.isEmpty, "every row taken by the last run")
            engine.finish(until: one.maxEventTime)
            found += engine.drainViolations().map(\.json.serialized)
        }
        #expect(partlyTaken > 0, "some rows spanned a run's target")
        #expect(rowsWritten < events.count / 10, "a row holds many events")
        #expect(found.count == expected.count)
        #expect(Set(found) == Set(expected))
    }

    static func entry(_ minute: Int, source: Int, sequence: UInt64) -> KeyedInbox.Entry {
        KeyedInbox.Entry(time: Timestamp(microseconds: Int64(minute) * 60_000_000), source: source, sequence: sequence,
                         json: Array(#"{"n":\#(sequence)}"#.utf8))
    }

    @Test func anInboxRowHoldsItsEventsUnderTheKeyOfTheEarliest() throws {
        let entries = [Self.entry(5, source: 3, sequence: 7), Self.entry(2, source: 3, sequence: 9), Self.entry(9, source: 3, sequence: 8)]
        let forwarded = KeyedInbox.row(namespace: "n", entries)
        #expect(forwarded.key == KeyedSpace.inboxKey(time: entries[1].time, source: 3, sequence: 9))
        #expect(KeyedInbox.entries(of: forwarded) == entries, "in the order they were sent")
        #expect(KeyedSpace.parts(ofInboxKey: forwarded.key)?.sequence == 9)

        // A row of one event's JSON, as versions before 2026-12 wrote, reads as that event.
        let legacy = StateChange(namespace: "n", key: KeyedSpace.inboxKey(time: entries[0].time, source: 1, sequence: 4), value: entries[0].json)
        #expect(KeyedInbox.entries(of: legacy) == [KeyedInbox.Entry(time: entries[0].time, source: 1, sequence: 4, json: entries[0].json)])

        var cut = forwarded
        cut.value?.removeLast()
        #expect(KeyedInbox.entries(of: cut) == nil, "a row cut short is not read as fewer events")
        #expect(KeyedInbox.entries(of: StateChange(namespace: "n", key: "not a key", value: forwarded.value)) == nil)
        #expect(KeyedInbox.take([cut], before: entries[2].time) == nil)
    }

    @Test func aTaskTakesTheEventsBeforeItsTargetInKeyOrderAndWritesBackTheRest() throws {
        let a = KeyedInbox.row(namespace: "n", [Self.entry(1, source: 2, sequence: 1), Self.entry(4, source: 2, sequence: 2), Self.entry(8, source: 2, sequence: 3)])
        let b = KeyedInbox.row(namespace: "n", [Self.entry(4, source: 0, sequence: 5), Self.entry(3, source: 0, sequence: 6)])
        let legacy = StateChange(namespace: "n", key: KeyedSpace.inboxKey(time: Self.entry(4, source: 1, sequence: 1).time, source: 1, sequence: 1),
                                 value: Self.entry(4, source: 1, sequence: 1).json)
        let later = KeyedInbox.row(namespace: "n", [Self.entry(6, source: 5, sequence: 1)])
        let taken = try #require(KeyedInbox.take([a, b, legacy, later], before: Timestamp(microseconds: 5 * 60_000_000)))
        #expect(taken.due.map { [$0.time.microseconds / 60_000_000, Int64($0.source), Int64($0.sequence)] }
                == [[1, 2, 1], [3, 0, 6], [4, 0, 5], [4, 1, 1], [4, 2, 2]], "event time, then source, then sequence")
        let rest = KeyedInbox.row(namespace: "n", [Self.entry(8, source: 2, sequence: 3)])
        #expect(taken.writes == [StateChange(namespace: "n", key: a.key, value: nil), rest,
                                 StateChange(namespace: "n", key: b.key, value: nil), StateChange(namespace: "n", key: legacy.key, value: nil)],
                "the row not taken from is left alone")
    }
}
