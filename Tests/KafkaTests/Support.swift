import Foundation
import Kafka
import Synchronization
import Testing

/// librdkafka's log goes to stderr only when `KAFKA_TEST_LOG` is set (broker-down tests are noisy by design).
let testLog: KafkaLogHandler = { record in
    if ProcessInfo.processInfo.environment["KAFKA_TEST_LOG"] != nil {
        FileHandle.standardError.write(Data("kafka %\(record.level) \(record.facility): \(record.message)\n".utf8))
    }
}

/// Keeps log lines, to check that injected faults really happened.
final class LogCollector: Sendable {
    private let lines = Mutex<[String]>([])

    var handler: KafkaLogHandler {
        { [self] record in
            testLog(record)
            lines.withLock { $0.append("\(record.facility): \(record.message)") }
        }
    }

    func count(containing text: String) -> Int {
        lines.withLock { $0.filter { $0.contains(text) }.count }
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    let description: String
}

func key(_ index: Int) -> [UInt8] { Array("key-\(index)".utf8) }
func value(_ index: Int) -> [UInt8] { Array("value-\(index)".utf8) }

/// The index `i` of a message produced by `produce` (key `key-i`).
func index(of message: ConsumerMessage) -> Int? {
    Int(String(decoding: message.key ?? [], as: UTF8.self).dropFirst(4))
}

/// A 3-broker mock cluster with one fresh topic.
func clusterWithTopic(_ prefix: String, partitions: Int) throws -> (MockCluster, String) {
    let cluster = try MockCluster(brokers: 3, logHandler: testLog)
    let topic = unique(prefix)
    try cluster.createTopic(topic, partitions: partitions)
    return (cluster, topic)
}

func makeProducer(_ cluster: MockCluster, configure: (inout ProducerConfiguration) -> Void = { _ in }) throws -> Producer {
    var configuration = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
    configuration.messageTimeout = .seconds(30)
    configuration.logHandler = testLog
    configure(&configuration)
    return try Producer(configuration: configuration)
}

/// Sends messages `key-i`/`value-i` for every `i` in `indices`, concurrently, and returns their reports by index.
func produce(_ producer: Producer, topic: String, _ indices: Range<Int>) async throws -> [Int: DeliveryReport] {
    try await withThrowingTaskGroup(of: (Int, DeliveryReport).self) { group in
        for i in indices {
            group.addTask { (i, try await producer.send(topic: topic, key: key(i), value: value(i))) }
        }
        return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
    }
}

/// A consumer configured for quick group changes on the mock cluster.
func makeConsumer(
    _ cluster: MockCluster, group: String, topics: [String],
    configure: (inout ConsumerConfiguration) -> Void = { _ in }
) throws -> Consumer {
    var configuration = ConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: group, topics: topics)
    configuration.sessionTimeout = .seconds(6)
    configuration.heartbeatInterval = .milliseconds(300)
    configuration.commitInterval = .milliseconds(200)
    configuration.maxBatchSize = 50
    configuration.batchLinger = .milliseconds(10)
    configuration.rebalanceTimeout = .seconds(10)
    configuration.logHandler = testLog
    configure(&configuration)
    return try Consumer(configuration: configuration)
}

/// Reads a consumer's events in a task of its own and keeps what it saw.
final class Recorder: Sendable {
    struct Snapshot: Sendable {
        var received: [ConsumerMessage] = []
        /// What was marked processed, in order.
        var marked: [ConsumerMessage] = []
        var assignment: Set<TopicPartition> = []
        var assignments: [AssignmentChange] = []
        var revocations: [AssignmentChange] = []
        var finished = false
        var failure: String?

        var receivedIndices: [Int] { received.compactMap(index(of:)) }
    }

    let consumer: Consumer
    private let state = Mutex(Snapshot())
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// - Parameters:
    ///   - shouldMark: whether to mark a batch processed, given what was marked before it.
    ///   - processing: how long each batch takes to process before it is marked.
    ///   - onAssigned: runs while the assignment waits (e.g. to seek).
    init(
        _ consumer: Consumer,
        processing: Duration = .zero,
        shouldMark: @escaping @Sendable (ConsumerBatch, Snapshot) -> Bool = { _, _ in true },
        onAssigned: @escaping @Sendable (Consumer, AssignmentChange) async throws -> Void = { _, _ in }
    ) {
        self.consumer = consumer
        let started = Task { [self] in
            do {
                for try await event in consumer.events {
                    switch event {
                    case .assigned(let change):
                        state.withLock {
                            $0.assignment.formUnion(change.partitions)
                            $0.assignments.append(change)
                        }
                        try await onAssigned(consumer, change)
                    case .revoked(let change):
                        state.withLock {
                            $0.assignment.subtract(change.partitions)
                            $0.revocations.append(change)
                        }
                    case .idle:
                        break
                    case .messages(let batch):
                        if processing > .zero { try await Task.sleep(for: processing) }
                        let mark = shouldMark(batch, state.withLock { $0 })
                        if mark { try consumer.markProcessed(batch) }
                        state.withLock {
                            $0.received += batch.messages
                            if mark { $0.marked += batch.messages }
                        }
                    }
                }
            } catch {
                state.withLock { $0.failure = "\(error)" }
            }
            state.withLock { $0.finished = true }
        }
        task.withLock { $0 = started }
    }

    var snapshot: Snapshot { state.withLock { $0 } }

    /// Waits (polling) until `condition` holds; fails after `timeout`, or when the reader failed.
    @discardableResult
    func waitUntil(
        _ what: String, timeout: Duration = .seconds(30), _ condition: (Snapshot) -> Bool
    ) async throws -> Snapshot {
        let deadline = ContinuousClock.now + timeout
        while true {
            let now = snapshot
            if let failure = now.failure { throw TestTimeout(description: "consumer failed while waiting for \(what): \(failure)") }
            if condition(now) { return now }
            if ContinuousClock.now >= deadline {
                throw TestTimeout(description: "timed out after \(timeout) waiting for \(what); received \(now.received.count)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends a marker to every partition and waits until all of them have arrived, here or at `others`: a partition's
    /// messages arrive in offset order, so a message that comes again comes before its partition's marker, and after
    /// this nothing earlier is still on its way (no fixed wait).
    @discardableResult
    func waitForMarkers(_ cluster: MockCluster, topic: String, partitions: Int32, others: [Recorder] = []) async throws -> Snapshot {
        let producer = try makeProducer(cluster)
        let tag = UUID().uuidString
        for p in Int32(0)..<partitions {
            _ = try await producer.send(topic: topic, key: Array("marker-\(tag)".utf8), value: Array("\(p)".utf8), partition: p)
        }
        await producer.shutdown()
        let key = Array("marker-\(tag)".utf8)
        return try await waitUntil("the markers of \(partitions) partitions") { mine in
            (mine.received + others.flatMap(\.snapshot.received)).filter { $0.key == key }.count == Int(partitions)
        }
    }

    /// Shuts the consumer down and waits for the reader to see the end of the events.
    func shutdown() async throws {
        await consumer.shutdown()
        try await waitUntil("the end of the events", timeout: .seconds(15)) { $0.finished }
    }
}

extension Array where Element == ConsumerMessage {
    /// Whether offsets only go up within each partition.
    var isOrderedWithinPartitions: Bool {
        var last: [TopicPartition: Int64] = [:]
        for message in self {
            if let previous = last[message.topicPartition], previous >= message.offset { return false }
            last[message.topicPartition] = message.offset
        }
        return true
    }
}

/// A fresh name, so tests never share topics or groups.
func unique(_ prefix: String) -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}
