import Events
import Foundation
import Kafka
import Replay
import Rules
import Simulation
import Testing

/// Replay from Kafka by time range, against librdkafka's mock cluster (which cannot look offsets up by time, so
/// these tests also cover the fallback: read from the start, skip what is before `--since`).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct KafkaReplayTests {
    static let quiet: KafkaLogHandler = { _ in }

    @Test func aTimeWindowOfTwoTopicsGivesTheViolationsOfTheSameWindowFromAFile() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = try MockCluster(brokers: 3, logHandler: Self.quiet)
        let (topicA, topicB) = ("events-a-\(UUID().uuidString)", "events-b-\(UUID().uuidString)")
        try cluster.createTopic(topicA, partitions: 3)
        try cluster.createTopic(topicB, partitions: 1)
        // In event-time order (no disorder), so that each partition's timestamps rise.
        let lines = Array(EventGenerator(.init(events: 3_000, subjects: 150, seed: 21, months: 1, invalidRate: 0.005,
                                               duplicateRate: 0.005, disorder: .zero)))
        var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        config.logHandler = Self.quiet
        let producer = try Producer(configuration: config)
        let evens = lines.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let odds = lines.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(try await TopicPublisher.publish(evens, topic: topicA, producer: producer) == evens.count)
        #expect(try await TopicPublisher.publish(odds, topic: topicB, producer: producer) == odds.count)
        await producer.shutdown()

        // The live group has read and committed part of topic A.
        let live = "consentinel-\(UUID().uuidString)"
        var liveConfig = ConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: live, topics: [topicA])
        liveConfig.logHandler = Self.quiet
        liveConfig.sessionTimeout = .seconds(6)
        liveConfig.heartbeatInterval = .milliseconds(300)
        let consumer = try Consumer(configuration: liveConfig)
        var marked = 0
        for try await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            try consumer.markProcessed(batch)
            marked += batch.messages.count
            if marked >= 300 { break }
        }
        try await consumer.commit()
        await consumer.shutdown()
        let partitionsA = (0..<3).map { TopicPartition(topic: topicA, partition: Int32($0)) }
        let before = try await committed(cluster, group: live, partitionsA)
        #expect(before.contains { $0.offset > 0 })

        let start = Timestamp(rfc3339: "2026-01-01T00:00:00Z")!
        let since = start + .days(10)
        let until = start + .days(20)
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let kafkaJob = ReplayJob(pipeline: pipeline, options: .init(
            inputs: [], until: until, violations: dir.appendingPathComponent("kafka-v.jsonl").path,
            deadLetters: dir.appendingPathComponent("kafka-d.jsonl").path))
        var reports: [ReplayProgress] = []
        kafkaJob.progress = { reports.append($0) }
        let fromKafka = try await kafkaJob.run(kafka: KafkaTimeRange(
            bootstrapServers: cluster.bootstrapServers, topics: [topicA, topicB], since: since, until: until,
            logHandler: Self.quiet))

        // The same window from a file: the lines whose Kafka timestamp (their time, or the time of the line before
        // for a line without one) is within it.
        var inWindow = Set<Int>()
        for parity in 0..<2 {
            var last: Timestamp?
            for (i, line) in lines.enumerated() where i % 2 == parity {
                if let t = Self.time(of: line) { last = t }
                if let last, last >= since, last <= until { inWindow.insert(i) }
            }
        }
        let window = lines.enumerated().filter { inWindow.contains($0.offset) }.map(\.element)
        let file = dir.appendingPathComponent("window.jsonl")
        try Fixtures.write(window, to: file)
        let fromFile = try Fixtures.replay([file], in: dir, name: "file", until: "2026-01-21T00:00:00Z")

        #expect(fromKafka.lines == window.count)
        #expect(fromKafka.events > 500)
        let kafkaViolations = try String(contentsOf: dir.appendingPathComponent("kafka-v.jsonl"), encoding: .utf8)
        #expect(Self.ids(kafkaViolations).count > 50)
        #expect(Self.ids(kafkaViolations) == Self.ids(fromFile.violations))
        let dead = try JSONValue.lines(ofFile: dir.appendingPathComponent("kafka-d.jsonl").path)
        #expect(dead.count == fromFile.dead.split(separator: "\n").count)
        #expect(dead.count > 0)
        for d in dead {
            let origin = try #require(d["origin"])
            #expect(origin["topic"] == .string(topicA) || origin["topic"] == .string(topicB))
            #expect(origin["partition"] != nil && origin["offset"] != nil)
        }
        #expect(reports.last?.finished == true && reports.last?.unit == .messages)

        // The live group's offsets are as they were.
        #expect(try await committed(cluster, group: live, partitionsA) == before)
    }

    @Test func anEmptyWindowReadsNothing() async throws {
        let cluster = try MockCluster(brokers: 1, logHandler: Self.quiet)
        let topic = "events-\(UUID().uuidString)"
        try cluster.createTopic(topic, partitions: 2)
        var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        config.logHandler = Self.quiet
        let producer = try Producer(configuration: config)
        let lines = Array(EventGenerator(.init(events: 200, subjects: 20, seed: 3, invalidRate: 0, duplicateRate: 0, disorder: .zero)))
        try await TopicPublisher.publish(lines, topic: topic, producer: producer)
        await producer.shutdown()
        let range = KafkaTimeRange(
            bootstrapServers: cluster.bootstrapServers, topics: [topic],
            since: Timestamp(rfc3339: "2027-01-01T00:00:00Z"), logHandler: Self.quiet)
        let plans = try await range.plan()
        #expect(plans.count == 2 && plans.allSatisfy { $0.count == 0 })
        var read = 0
        try await range.read { _, _, _ in read += 1 }
        #expect(read == 0)
    }

    static func time(of line: String) -> Timestamp? {
        guard let v = try? JSONValue.parse(line), case .string(let t)? = v["time"] else { return nil }
        return Timestamp(rfc3339: t)
    }

    static func ids(_ jsonl: String) -> Set<String> {
        Set(jsonl.split(separator: "\n").compactMap { line in
            guard let v = try? JSONValue.parse(String(line)), case .string(let id)? = v["id"] else { return nil }
            return id
        })
    }

    /// The group's committed offsets, read by a reader that does not join the group.
    func committed(_ cluster: MockCluster, group: String, _ partitions: [TopicPartition]) async throws -> [TopicPartitionOffset] {
        var config = ConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: group, topics: [])
        config.logHandler = Self.quiet
        let reader = try Consumer(configuration: config, assignment: partitions.map { TopicPartitionOffset($0, offset: 0) })
        let offsets = try await reader.committedOffsets(for: partitions)
        await reader.shutdown()
        return offsets
    }
}
