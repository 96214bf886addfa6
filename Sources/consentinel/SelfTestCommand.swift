import ArgumentParser
import Foundation
import Kafka

/// `consentinel selftest`: a Kafka round trip on an in-process mock cluster, to check that librdkafka and the
/// Kafka module work on this machine.
struct SelfTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest", abstract: "Kafka round trip on an embedded mock cluster.")

    @Option(help: "Brokers in the mock cluster.") var brokers = 3
    @Option(help: "Partitions of the test topic.") var partitions = 4
    @Option(help: "Keyed messages to produce and consume.") var messages = 1000
    @Option(help: "How long before the self-test gives up, such as 60s or 2m, or a number of seconds.")
    var timeout = DurationArgument(seconds: 60)
    @Flag(help: "Print librdkafka's log.") var verbose = false

    func validate() throws {
        guard brokers >= 1, partitions >= 1, messages >= 1, timeout.seconds >= 1 else {
            throw ValidationError("--brokers, --partitions, --messages and --timeout must be at least 1")
        }
    }

    func run() async throws {
        do {
            try await withDeadline(timeout.swiftDuration) { try await roundTrip() }
        } catch {
            FileHandle.standardError.write(Data("selftest FAILED: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func roundTrip() async throws {
        let verbose = self.verbose
        let log: KafkaLogHandler = { record in
            if verbose || record.level <= 3 {
                FileHandle.standardError.write(Data("kafka %\(record.level) \(record.facility): \(record.message)\n".utf8))
            }
        }
        let started = ContinuousClock.now
        let cluster = try MockCluster(brokers: brokers, logHandler: log)
        print("mock cluster: \(brokers) brokers at \(cluster.bootstrapServers)")
        let topic = "consentinel.selftest"
        try cluster.createTopic(topic, partitions: partitions)

        var producerConfig = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        producerConfig.logHandler = log
        let producer = try Producer(configuration: producerConfig)
        let produceStart = ContinuousClock.now
        let reports = try await withThrowingTaskGroup(of: DeliveryReport.self) { group in
            for index in 0..<messages {
                group.addTask {
                    try await producer.send(
                        topic: topic, key: Array("key-\(index)".utf8), value: Array("value-\(index)".utf8))
                }
            }
            return try await group.reduce(into: [DeliveryReport]()) { $0.append($1) }
        }
        await producer.shutdown()
        let produceTime = ContinuousClock.now - produceStart
        print("produced: \(reports.count) messages (idempotent) in \(format(produceTime))")

        var consumerConfig = ConsumerConfiguration(
            bootstrapServers: [cluster.bootstrapServers], groupID: "consentinel-selftest", topics: [topic])
        consumerConfig.logHandler = log
        let consumer = try Consumer(configuration: consumerConfig)
        let consumeStart = ContinuousClock.now
        var values: [String: String] = [:]
        var lastOffset: [Int32: Int64] = [:]
        var assigned = 0
        for try await event in consumer.events {
            switch event {
            case .assigned(let change):
                assigned += change.partitions.count
            case .revoked, .idle:
                break
            case .messages(let batch):
                for message in batch.messages {
                    guard message.offset > lastOffset[message.partition, default: -1] else {
                        throw SelfTestFailure("partition \(message.partition) went back to offset \(message.offset)")
                    }
                    lastOffset[message.partition] = message.offset
                    values[String(decoding: message.key ?? [], as: UTF8.self)] = String(decoding: message.value, as: UTF8.self)
                }
                try consumer.markProcessed(batch)
            }
            if values.count >= messages { break }
        }
        try await consumer.commit()
        await consumer.shutdown()
        let consumeTime = ContinuousClock.now - consumeStart

        for index in 0..<messages where values["key-\(index)"] != "value-\(index)" {
            throw SelfTestFailure("message key-\(index) was not consumed intact")
        }
        print("consumed: \(values.count) messages from \(lastOffset.count) partitions in \(format(consumeTime))")
        print("selftest passed in \(format(ContinuousClock.now - started))")
    }

    private func format(_ duration: Duration) -> String {
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.0f ms", ms)
    }
}

struct SelfTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, failing with a clear error when it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw SelfTestFailure("timed out after \(limit)")
        }
        return value
    }
}
