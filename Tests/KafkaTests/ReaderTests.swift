import Foundation
import Kafka
import Testing

/// Queued sends with timestamps, a reader by manual assignment that leaves group offsets alone, and offsets for
/// times (which the mock cluster cannot answer).
@Suite("Kafka reader and queued sends", .serialized, .timeLimit(.minutes(1)))
struct ReaderTests {
    @Test("enqueue keeps order and timestamps; a reader reads from its offsets and commits nothing")
    func enqueueAndRead() async throws {
        let (cluster, topic) = try clusterWithTopic("reader", partitions: 1)
        let producer = try makeProducer(cluster)
        let base: Int64 = 1_767_225_600_000
        let deliveries = try (0..<300).map { i in
            try producer.enqueue(topic: topic, key: key(i), value: value(i), timestamp: base + Int64(i) * 1000)
        }
        let reports = try await deliveries.asyncMap { try await $0.report() }
        await producer.shutdown()
        #expect(reports.map(\.offset) == Array(0..<300).map(Int64.init))
        #expect(deliveries.allSatisfy { $0.isComplete })

        let group = unique("group")
        var config = ConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: group, topics: [])
        config.logHandler = testLog
        let partition = TopicPartition(topic: topic, partition: 0)
        let reader = try Consumer(configuration: config, assignment: [TopicPartitionOffset(partition, offset: 100)])
        var seen: [ConsumerMessage] = []
        for try await event in reader.events {
            guard case .messages(let batch) = event else { continue }
            try reader.markProcessed(batch)
            seen += batch.messages
            if seen.count >= 200 { break }
        }
        let committed = try await reader.committedOffsets(for: [partition])
        await reader.shutdown()
        #expect(seen.map(\.offset) == Array(100..<300).map(Int64.init))
        #expect(seen.map(\.timestampMilliseconds) == (100..<300).map { base + Int64($0) * 1000 })
        #expect(committed.map(\.offset) == [-1001])

        var adminConfig = AdminConfiguration(bootstrapServers: [cluster.bootstrapServers])
        adminConfig.logHandler = testLog
        let admin = try Admin(configuration: adminConfig)
        let found = try await admin.offsets(forTimes: [partition: base + 50_000])
        // The mock cluster of librdkafka before 2.1 answers "none" (-1) for any time (docs/kafka.md), which replays of a
        // time range handle by reading from the start; later mocks, and real brokers, answer the first offset at or
        // after the time: 50.
        let mockKnowsTimes = !librdkafkaVersion.hasPrefix("2.0.") && !librdkafkaVersion.hasPrefix("1.")
        #expect(found[partition] == (mockKnowsTimes ? 50 : -1), "librdkafka \(librdkafkaVersion)")
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
