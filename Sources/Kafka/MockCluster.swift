import CRdKafka

/// A Kafka protocol request type, for fault injection (`ProduceRequest` is 0, `FetchRequest` 1, …).
public struct KafkaAPIKey: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let produce = KafkaAPIKey(rawValue: 0)
    public static let fetch = KafkaAPIKey(rawValue: 1)
    public static let listOffsets = KafkaAPIKey(rawValue: 2)
    public static let metadata = KafkaAPIKey(rawValue: 3)
    public static let offsetCommit = KafkaAPIKey(rawValue: 8)
    public static let offsetFetch = KafkaAPIKey(rawValue: 9)
    public static let findCoordinator = KafkaAPIKey(rawValue: 10)
    public static let joinGroup = KafkaAPIKey(rawValue: 11)
    public static let heartbeat = KafkaAPIKey(rawValue: 12)
    public static let leaveGroup = KafkaAPIKey(rawValue: 13)
    public static let syncGroup = KafkaAPIKey(rawValue: 14)
    public static let initProducerID = KafkaAPIKey(rawValue: 22)
}

/// Owns a librdkafka mock cluster and the `rd_kafka_t` it was made on; destroys both, cluster first.
///
/// `@unchecked Sendable`: a C handle wrapper. The mock cluster's functions post their work to the cluster's own
/// thread and may be called from any thread; the pointers never change after `init`.
private final class MockClusterHandle: @unchecked Sendable {
    let client: KafkaClient
    let cluster: OpaquePointer

    init(brokers: Int, logHandler: @escaping KafkaLogHandler) throws(KafkaError) {
        let context = ClientContext(logHandler: logHandler)
        client = try KafkaClient(kind: .producer, properties: [("client.id", "consentinel-mock")], context: context)
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, Int32(brokers)) else {
            throw KafkaError(code: .invalidArgument, message: "cannot start a mock cluster of \(brokers) brokers")
        }
        self.cluster = cluster
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }
}

/// An in-process Kafka cluster: librdkafka's mock brokers, speaking the Kafka protocol over loopback TCP, so any
/// client (ours, kcat) can use `bootstrapServers`. Supports produce (idempotent too), fetch, consumer groups with
/// offset commits, and fault injection. It keeps only about 5 MB per partition, and does not implement the
/// CreateTopics admin request: create topics with `createTopic`.
public final class MockCluster: Sendable {
    private let handle: MockClusterHandle
    public let brokerCount: Int
    /// `host:port,host:port,…` of the brokers, ids 1 through `brokerCount`.
    public let bootstrapServers: String

    public init(brokers: Int = 3, logHandler: KafkaLogHandler? = nil) throws(KafkaError) {
        guard brokers >= 1 else { throw KafkaError(code: .invalidArgument, message: "a cluster needs a broker") }
        // The handle that hosts the cluster has no brokers of its own; keep its notices (no bootstrap.servers) quiet.
        let handler = logHandler ?? { record in if record.level <= 4 { defaultLogHandler(record) } }
        handle = try MockClusterHandle(brokers: brokers, logHandler: handler)
        brokerCount = brokers
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(handle.cluster))
    }

    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try KafkaError.check(
            rd_kafka_mock_topic_create(handle.cluster, name, Int32(partitions), Int32(replicationFactor)),
            "create topic \(name)")
    }

    /// The next `errors.count` requests of type `api` (to any broker) fail with these errors, in order.
    /// `KafkaError.Code.transport` makes the broker drop the connection instead.
    public func pushRequestErrors(_ api: KafkaAPIKey, _ errors: [KafkaError.Code]) {
        let codes = errors.map { rd_kafka_resp_err_t($0.rawValue) }
        rd_kafka_mock_push_request_errors_array(handle.cluster, api.rawValue, codes.count, codes)
    }

    /// The next `errors.count` requests of type `api` that broker `brokerID` receives fail with these errors, in order.
    public func pushRequestErrors(broker brokerID: Int32, _ api: KafkaAPIKey, _ errors: [KafkaError.Code]) throws(KafkaError) {
        for error in errors {
            try KafkaError.check(
                consentinel_mock_broker_push_request_error(
                    handle.cluster, brokerID, api.rawValue, rd_kafka_resp_err_t(error.rawValue), 0),
                "push a request error to broker \(brokerID)")
        }
    }

    /// How many errors pushed with `pushRequestErrors(broker:_:_:)` requests have not met yet.
    public func pendingRequestErrors(broker brokerID: Int32, _ api: KafkaAPIKey) throws(KafkaError) -> Int {
        var count = 0
        try KafkaError.check(
            rd_kafka_mock_broker_error_stack_cnt(handle.cluster, brokerID, api.rawValue, &count),
            "count the request errors of broker \(brokerID)")
        return count
    }

    public func clearRequestErrors(_ api: KafkaAPIKey) {
        rd_kafka_mock_clear_request_errors(handle.cluster, api.rawValue)
    }

    /// Disconnects the broker (`-1`: all) and refuses connections; partition leadership does not move.
    public func setBrokerDown(_ brokerID: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_broker_set_down(handle.cluster, brokerID), "broker \(brokerID) down")
    }

    public func setBrokerUp(_ brokerID: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_broker_set_up(handle.cluster, brokerID), "broker \(brokerID) up")
    }

    /// Delays every response of the broker (`-1`: all) by `roundTripTime`.
    public func setRoundTripTime(broker brokerID: Int32, _ roundTripTime: Duration) throws(KafkaError) {
        try KafkaError.check(
            rd_kafka_mock_broker_set_rtt(handle.cluster, brokerID, roundTripTime.milliseconds),
            "broker \(brokerID) rtt")
    }

    /// Moves a partition's leadership (`-1`: no leader).
    public func setPartitionLeader(topic: String, partition: Int32, broker brokerID: Int32) throws(KafkaError) {
        try KafkaError.check(
            rd_kafka_mock_partition_set_leader(handle.cluster, topic, partition, brokerID),
            "leader of \(topic)[\(partition)]")
    }

    /// Makes `brokerID` the coordinator of a consumer group.
    public func setGroupCoordinator(group: String, broker brokerID: Int32) throws(KafkaError) {
        try KafkaError.check(
            rd_kafka_mock_coordinator_set(handle.cluster, "group", group, brokerID), "coordinator of \(group)")
    }
}
