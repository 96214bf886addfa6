import CRdKafka

/// A topic to create.
public struct NewTopic: Sendable {
    public var name: String
    public var partitions: Int
    /// `-1`: the broker's default.
    public var replicationFactor: Int
    /// Topic configuration (`retention.ms`, `cleanup.policy`, …).
    public var config: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int = -1, config: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.config = config
    }
}

public struct BrokerMetadata: Hashable, Sendable {
    public let id: Int32
    public let host: String
    public let port: Int32
}

public struct PartitionMetadata: Hashable, Sendable {
    public let id: Int32
    /// The leader's broker id, `-1` when there is none.
    public let leader: Int32
    public let replicas: [Int32]
    public let inSyncReplicas: [Int32]
    /// The broker's error for this partition, if any.
    public let error: KafkaError.Code?
}

public struct TopicMetadata: Hashable, Sendable {
    public let name: String
    /// Sorted by id.
    public let partitions: [PartitionMetadata]
    public let error: KafkaError.Code?
}

public struct ClusterMetadata: Hashable, Sendable {
    /// Sorted by id.
    public let brokers: [BrokerMetadata]
    /// Sorted by name.
    public let topics: [TopicMetadata]
    public let originatingBrokerID: Int32

    public func topic(_ name: String) -> TopicMetadata? { topics.first { $0.name == name } }
}

/// Cluster administration: creating topics and reading metadata. Its blocking calls run on threads of their own.
public final class Admin: Sendable {
    public let configuration: AdminConfiguration
    fileprivate let client: KafkaClient

    public init(configuration: AdminConfiguration) throws(KafkaError) {
        self.configuration = configuration
        client = try KafkaClient(
            kind: .producer, properties: configuration.librdkafkaProperties,
            context: ClientContext(logHandler: configuration.logHandler))
    }

    /// Creates topics (CreateTopics, answered by the controller). Throws the first topic's error, e.g.
    /// `TOPIC_ALREADY_EXISTS`, with every failed topic in the message.
    public func createTopics(_ topics: [NewTopic], timeout: Duration = .seconds(30)) async throws(KafkaError) {
        let client = self.client
        try await onDedicatedThread(name: "kafka-admin") { () throws(KafkaError) in
            try Self.createTopics(client.handle, topics, timeout)
        }
    }

    private static func createTopics(_ rk: OpaquePointer, _ topics: [NewTopic], _ timeout: Duration) throws(KafkaError) {
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for topic in topics {
            // librdkafka 2.0.2 lets 0 through to the broker; refuse it here.
            guard topic.partitions >= 1 || topic.partitions == -1,
                  topic.replicationFactor >= 1 || topic.replicationFactor == -1 else {
                throw KafkaError(
                    code: .invalidArgument,
                    message: "topic \(topic.name): partitions and replication factor must be at least 1, or -1")
            }
            guard let newTopic = rd_kafka_NewTopic_new(
                topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errstr, errstr.count) else {
                throw KafkaError(code: .invalidArgument, message: "topic \(topic.name): \(string(errstr))")
            }
            newTopics.append(newTopic)
            for (key, value) in topic.config.sorted(by: { $0.key < $1.key }) {
                try KafkaError.check(rd_kafka_NewTopic_set_config(newTopic, key, value), "topic \(topic.name) \(key)")
            }
        }
        let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        try KafkaError.check(
            rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count),
            "request timeout")
        try KafkaError.check(
            rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errstr, errstr.count),
            "operation timeout")
        let queue = rd_kafka_queue_new(rk)
        defer { rd_kafka_queue_destroy(queue) }
        rd_kafka_CreateTopics(rk, &newTopics, newTopics.count, options, queue)
        // The request's own timeout ends it; the extra second covers the event's way back.
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds + 1000) else {
            throw KafkaError(code: .timedOut, message: "no CreateTopics result within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(code: KafkaError.Code(err), message: "create topics: \(String(cString: rd_kafka_event_error_string(event)))")
        }
        var count = 0
        let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
        let failures: [(KafkaError.Code, String)] = (0..<count).compactMap { index in
            let result = results![index]
            let code = rd_kafka_topic_result_error(result)
            guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
            let name = String(cString: rd_kafka_topic_result_name(result))
            let detail = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""
            return (KafkaError.Code(code), "\(name): \(KafkaError.Code(code).name) \(detail)")
        }
        if let first = failures.first {
            throw KafkaError(code: first.0, message: "create topics: " + failures.map(\.1).joined(separator: "; "))
        }
    }

    /// Brokers, and topics with their partitions (all topics when `topics` is `nil`; names not in the cluster are
    /// left out).
    public func metadata(topics: [String]? = nil, timeout: Duration = .seconds(10)) async throws(KafkaError) -> ClusterMetadata {
        let client = self.client
        return try await onDedicatedThread(name: "kafka-admin") { () throws(KafkaError) in
            var pointer: UnsafePointer<rd_kafka_metadata>?
            try KafkaError.check(rd_kafka_metadata(client.handle, 1, nil, &pointer, timeout.milliseconds), "metadata")
            guard let pointer else { throw KafkaError(code: .state, message: "metadata: empty answer") }
            defer { rd_kafka_metadata_destroy(pointer) }
            let metadata = ClusterMetadata(pointer.pointee)
            guard let topics else { return metadata }
            let wanted = Set(topics)
            return ClusterMetadata(
                brokers: metadata.brokers, topics: metadata.topics.filter { wanted.contains($0.name) },
                originatingBrokerID: metadata.originatingBrokerID)
        }
    }
}

/// The first offset still in a partition and the offset the next message will get.
public struct Watermarks: Hashable, Sendable {
    public let low: Int64
    public let high: Int64
    /// Messages currently in the partition.
    public var count: Int64 { high - low }
}

extension Admin {
    /// Asks the partition's leader for its low and high watermarks.
    public func watermarks(topic: String, partition: Int32, timeout: Duration = .seconds(10)) async throws(KafkaError) -> Watermarks {
        let client = self.client
        return try await onDedicatedThread(name: "kafka-admin") { () throws(KafkaError) in
            var low: Int64 = 0
            var high: Int64 = 0
            try KafkaError.check(
                rd_kafka_query_watermark_offsets(client.handle, topic, partition, &low, &high, timeout.milliseconds),
                "watermarks of \(topic)[\(partition)]")
            return Watermarks(low: low, high: high)
        }
    }
}

extension ClusterMetadata {
    fileprivate init(_ md: rd_kafka_metadata) {
        let brokers = UnsafeBufferPointer(start: md.brokers, count: Int(md.broker_cnt)).map {
            BrokerMetadata(id: $0.id, host: String(cString: $0.host), port: $0.port)
        }
        let topics = UnsafeBufferPointer(start: md.topics, count: Int(md.topic_cnt)).map { topic in
            TopicMetadata(
                name: String(cString: topic.topic),
                partitions: UnsafeBufferPointer(start: topic.partitions, count: Int(topic.partition_cnt)).map { p in
                    PartitionMetadata(
                        id: p.id, leader: p.leader,
                        replicas: Array(UnsafeBufferPointer(start: p.replicas, count: Int(p.replica_cnt))),
                        inSyncReplicas: Array(UnsafeBufferPointer(start: p.isrs, count: Int(p.isr_cnt))),
                        error: errorCode(p.err))
                }.sorted { $0.id < $1.id },
                error: errorCode(topic.err))
        }
        self.init(
            brokers: brokers.sorted { $0.id < $1.id }, topics: topics.sorted { $0.name < $1.name },
            originatingBrokerID: md.orig_broker_id)
    }
}

private func errorCode(_ err: rd_kafka_resp_err_t) -> KafkaError.Code? {
    err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.Code(err)
}

extension Admin {
    /// For each partition, the earliest offset whose message timestamp is at or after the given time (milliseconds
    /// since the Unix epoch), by `rd_kafka_offsets_for_times` (ListOffsets by timestamp). `-1` (`OFFSET_END`) where
    /// the broker knows no such message. librdkafka 2.0.2's mock cluster answers `-1` for every time (it cannot look
    /// up by timestamp): see `KafkaTimeRange` in the Daemon module for how replay copes with that.
    public func offsets(
        forTimes times: [TopicPartition: Int64], timeout: Duration = .seconds(10)
    ) async throws(KafkaError) -> [TopicPartition: Int64] {
        let client = self.client
        let entries = times.sorted { $0.key < $1.key }.map { TopicPartitionOffset($0.key, offset: $0.value) }
        guard !entries.isEmpty else { return [:] }
        return try await onDedicatedThread(name: "kafka-admin") { () throws(KafkaError) in
            let list = PartitionList(entries)
            try KafkaError.check(
                rd_kafka_offsets_for_times(client.handle, list.pointer, timeout.milliseconds), "offsets for times")
            if let error = list.firstError("offsets for times") { throw error }
            var result: [TopicPartition: Int64] = [:]
            for entry in PartitionList.entries(list.pointer) {
                result[TopicPartition(topic: String(cString: entry.topic), partition: entry.partition)] = entry.offset
            }
            return result
        }
    }
}
