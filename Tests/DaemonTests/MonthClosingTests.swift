@testable import Daemon
import Digests
import Events
import Foundation
import Kafka
import Logging
import Processing
import Replay
import Rules
import Storage
import Testing

/// Two stream processors (two instances) sharing one store, each owning two of the four partitions: a month's
/// organisation digest waits for every partition, including one without events, and is emitted once.
@Suite struct MonthClosingTests {
    static let topic = "events"

    static func processor(
        _ pipeline: Pipeline, _ store: any StateStore, folder: String? = nil,
        checkpointInterval: Swift.Duration = DaemonConfiguration.defaultCheckpointInterval,
        violations: DaemonConfiguration.Sink = .init()
    ) -> StreamProcessor {
        var configuration = DaemonConfiguration(
            source: .init(bootstrapServers: "unused:9092", group: "g", topics: [topic], properties: [:]),
            stateURL: "unused", violations: violations, deadLetters: .init(), digests: .init(topic: "digests", file: folder),
            httpHost: "127.0.0.1", httpPort: 0, idleTimeout: .zero, maxOutboxDepth: 1_000, producerProperties: [:])
        configuration.checkpointInterval = checkpointInterval
        var logger = Logger(label: "month-closing-test")
        logger.logLevel = .critical
        let processor = StreamProcessor(pipeline: pipeline, configuration: configuration, store: store, metrics: DaemonMetrics(), logger: logger)
        processor.sourcePartitionCounts = [topic: 4]
        return processor
    }

    /// A use event and, an hour after January, a quiet one: the partition's watermark passes the month's end.
    static func batch(_ partitions: [Int32]) -> ConsumerBatch {
        var messages: [ConsumerMessage] = []
        for p in partitions {
            let lines = [
                #"{"id":"u-\#(p)","type":"use","time":"2026-01-10T10:00:00Z","subject":"s\#(p)","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#,
                #"{"id":"t-\#(p)","type":"collect","time":"2026-02-01T01:00:00Z","subject":"s\#(p)","categories":["user.device"]}"#,
            ]
            for (offset, line) in lines.enumerated() {
                messages.append(ConsumerMessage(topic: topic, partition: p, offset: Int64(offset), key: Array("s\(p)".utf8), value: Array(line.utf8)))
            }
        }
        return ConsumerBatch(messages: messages)
    }

    @Test func theOrganisationDigestWaitsForEveryPartitionAndIsEmittedOnce() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let a = Self.processor(pipeline, store), b = Self.processor(pipeline, store)
        _ = try await a.assign([0, 1].map { TopicPartition(topic: Self.topic, partition: $0) })
        _ = try await b.assign([2, 3].map { TopicPartition(topic: Self.topic, partition: $0) })
        let orgs = DigestSpace.orgs(pipeline.name)

        try await a.process(Self.batch([0, 1]))
        #expect(try await store.loadGlobal(namespace: DigestSpace.subjects(pipeline.name, month: "2026-01")).isEmpty,
                "January waits for the keyed tasks of bulk-access, which wait for partitions 2 and 3")

        // Partition 3 has no event at all; it passes January with the watermark of the instance that owns it. Then
        // each instance's keyed tasks have passed January once it has run them (on its next batch or idle tick).
        try await b.process(Self.batch([2]))
        #expect(try await store.loadGlobal(namespace: DigestSpace.subjects(pipeline.name, month: "2026-01")).isEmpty,
                "instance a has not run its keyed tasks since")
        try await a.tick()
        #expect(try await store.loadGlobal(namespace: DigestSpace.subjects(pipeline.name, month: "2026-01")).map(\.key) == ["s0", "s1"])
        #expect(try await store.loadGlobal(namespace: orgs).isEmpty, "partitions 2 and 3 have not closed January")
        #expect(try await store.outboxDepth() == 2, "a subject digest each")
        try await b.tick()
        let org = try #require(try await store.loadGlobal(namespace: orgs, key: "2026-01"))
        let digest = try OrgDigest(jsonText: String(decoding: org, as: UTF8.self))
        #expect(digest.subjects == 3)
        #expect(digest.eventsByType == ["use": 3])
        #expect(try await store.outboxDepth() == 2 + 1 + 1, "one more subject digest, one organisation digest")
        #expect(try await store.loadGlobal(namespace: DigestSpace.pending(pipeline.name)).isEmpty)
        #expect(try await store.loadGlobal(namespace: DigestSpace.parts(pipeline.name, month: "2026-01")).isEmpty)

        try await a.completeOrgDigests()
        #expect(try await store.outboxDepth() == 4, "nothing emitted twice")

        // A restarted instance loads the partitions' state and knows January is closed.
        let again = Self.processor(pipeline, store)
        _ = try await again.assign([0, 1].map { TopicPartition(topic: Self.topic, partition: $0) })
        let late = #"{"id":"late","type":"use","time":"2026-01-20T10:00:00Z","subject":"s0","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#
        try await again.process(ConsumerBatch(messages: [ConsumerMessage(topic: Self.topic, partition: 0, offset: 2, key: nil, value: Array(late.utf8))]))
        let stored = try #require(try await store.loadGlobal(namespace: DigestSpace.subjects(pipeline.name, month: "2026-01"), key: "s0"))
        #expect(try SubjectDigest(jsonText: String(decoding: stored, as: UTF8.self)).useTotal == 1, "a closed month is not counted again")
        let claim = try await store.claim(PartitionID(topic: Self.topic, partition: 0), pipeline: pipeline.name)
        #expect(claim.state.filter { DigestBook.isDigestRow(namespace: $0.namespace) && ($0.namespace.hasSuffix("2026-01") || $0.key == "2026-01") }.isEmpty,
                "a closed month's rows are gone from the partition's state")
        await store.close()
    }

    @Test func aMonthThatCannotBeWrittenStaysPendingWithoutStoppingTheDaemon() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let processor = Self.processor(pipeline, store, folder: "/dev/null/digests")
        _ = try await processor.assign((0..<4).map { TopicPartition(topic: Self.topic, partition: Int32($0)) })
        try await processor.process(Self.batch([0, 1, 2, 3]))
        #expect(processor.retriesOrgDigests)
        #expect(try await store.loadGlobal(namespace: DigestSpace.orgs(pipeline.name)).isEmpty)
        #expect(try await store.loadGlobal(namespace: DigestSpace.pending(pipeline.name)).map(\.key) == ["2026-01"])
        await store.close()
    }

    /// A deadline keyed by system fires in February for a subject with no event that month: no partition holds a
    /// digest of that subject for February, so the month's completion makes one, as a replay's digests have it.
    @Test func aKeyedViolationOfASubjectWithoutEventsThatMonthGetsADigest() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipelineDir = dir.appendingPathComponent("pipeline")
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline, toPath: pipelineDir.path)
        try """
        - rule: crm-review
          kind: deadline
          severity: medium
          start: event.type == "collect" and event.system == "crm"
          satisfied_by: event.type == "delete"
          within: 20d
          key: system
        """.write(to: pipelineDir.appendingPathComponent("rules/zz-crm.yaml"), atomically: true, encoding: .utf8)
        let pipeline = try PipelineLoader().load(directory: pipelineDir.path)
        #expect(pipeline.repartitionedRules.map(\.id) == ["bulk-access", "crm-review"])
        let byPartition: [Int32: [String]] = [
            0: [#"{"id":"u0","type":"use","time":"2026-01-20T10:00:00Z","subject":"s0","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#,
                #"{"id":"c1","type":"collect","time":"2026-01-25T10:00:00Z","subject":"s1","system":"crm","categories":["user.device"]}"#],
            1: [#"{"id":"u2","type":"use","time":"2026-02-10T10:00:00Z","subject":"s2","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#,
                #"{"id":"u3","type":"use","time":"2026-02-12T10:00:00Z","subject":"s3","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#],
        ]
        var messages: [ConsumerMessage] = []
        var lines: [String] = []
        for p in Int32(0)..<4 {
            let tick = #"{"id":"t-\#(p)","type":"collect","time":"2026-03-02T01:00:00Z","subject":"t\#(p)","categories":["user.device"]}"#
            for (offset, line) in (byPartition[p, default: []] + [tick]).enumerated() {
                messages.append(ConsumerMessage(topic: Self.topic, partition: p, offset: Int64(offset), key: nil, value: Array(line.utf8)))
                lines.append(line)
            }
        }
        let replayed = dir.appendingPathComponent("replay")
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(lines.sorted { $0.contains("2026-03") ? false : $1.contains("2026-03") }, to: input)
        _ = try ReplayJob(pipeline: pipeline, options: .init(
            inputs: [input.path], until: Timestamp(rfc3339: "2026-03-02T00:55:00Z"),
            violations: replayed.appendingPathComponent("violations.jsonl").path, digests: replayed.appendingPathComponent("digests").path)).run()

        let store = try await StateStores.open(url: dir.appendingPathComponent("state.db").path)
        let folder = dir.appendingPathComponent("daemon-digests")
        let processor = Self.processor(pipeline, store, folder: folder.path)
        // Each partition's month-close rows in a commit of their own, and the folder written from pages of one digest:
        // the paths a million customers take.
        processor.monthCloseRowsPerCommit = 1
        processor.digestPageSize = 1
        _ = try await processor.assign((0..<4).map { TopicPartition(topic: Self.topic, partition: $0) })
        try await processor.process(ConsumerBatch(messages: messages))
        for month in ["2026-01", "2026-02"] {
            for file in ["subjects.jsonl", "org.json"] {
                let expected = try String(contentsOf: replayed.appendingPathComponent("digests/\(month)/\(file)"), encoding: .utf8)
                let written = try String(contentsOf: folder.appendingPathComponent("\(month)/\(file)"), encoding: .utf8)
                #expect(written == expected, "\(month)/\(file)")
            }
        }
        let february = try String(contentsOf: folder.appendingPathComponent("2026-02/subjects.jsonl"), encoding: .utf8)
        #expect(february.contains(#""subject":"s1""#) && february.contains("crm-review"), "s1's February digest holds the violation")
        #expect(try await store.loadGlobal(namespace: KeyedSpace.amendments(pipeline.name, month: "2026-02")).isEmpty)
        await store.close()
    }
}
