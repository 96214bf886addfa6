import CRdKafka

/// The one error type of the `Kafka` module.
///
/// `code` is librdkafka's `rd_kafka_resp_err_t` (negative values are local client errors such as `_TIMED_OUT`,
/// positive values are Kafka protocol errors such as `NOT_LEADER_FOR_PARTITION`); `message` says what happened.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A librdkafka error code: its numeric value and its symbolic name (`_TIMED_OUT`, `UNKNOWN_TOPIC_OR_PART`, …).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public let name: String

        public init(rawValue: Int32) {
            self.rawValue = rawValue
            self.name = String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue)))
        }

        init(_ err: rd_kafka_resp_err_t) {
            self.init(rawValue: err.rawValue)
        }

        public var description: String { name }

        public static func == (lhs: Code, rhs: Code) -> Bool { lhs.rawValue == rhs.rawValue }
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

        // Local (client-side) errors.
        public static let destroyed = Code(RD_KAFKA_RESP_ERR__DESTROY)
        public static let transport = Code(RD_KAFKA_RESP_ERR__TRANSPORT)
        public static let messageTimedOut = Code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
        public static let unknownPartition = Code(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        public static let unknownTopic = Code(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        public static let allBrokersDown = Code(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        public static let invalidArgument = Code(RD_KAFKA_RESP_ERR__INVALID_ARG)
        public static let timedOut = Code(RD_KAFKA_RESP_ERR__TIMED_OUT)
        public static let queueFull = Code(RD_KAFKA_RESP_ERR__QUEUE_FULL)
        public static let state = Code(RD_KAFKA_RESP_ERR__STATE)
        public static let noOffset = Code(RD_KAFKA_RESP_ERR__NO_OFFSET)
        public static let purgeQueue = Code(RD_KAFKA_RESP_ERR__PURGE_QUEUE)
        public static let purgeInflight = Code(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        public static let fatal = Code(RD_KAFKA_RESP_ERR__FATAL)
        // Broker (protocol) errors.
        public static let noError = Code(RD_KAFKA_RESP_ERR_NO_ERROR)
        public static let unknownTopicOrPartition = Code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        public static let notLeaderForPartition = Code(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)
        public static let requestTimedOut = Code(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
        public static let notCoordinator = Code(RD_KAFKA_RESP_ERR_NOT_COORDINATOR)
        public static let notEnoughReplicas = Code(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)
        public static let topicAlreadyExists = Code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    init(_ err: rd_kafka_resp_err_t, _ context: String) {
        let detail = String(cString: rd_kafka_err2str(err))
        self.init(code: Code(err), message: context.isEmpty ? detail : "\(context): \(detail)")
    }

    /// Takes ownership of an `rd_kafka_error_t` (destroying it) and returns it as a `KafkaError`.
    init(consuming error: OpaquePointer, _ context: String) {
        defer { rd_kafka_error_destroy(error) }
        let detail = String(cString: rd_kafka_error_string(error))
        self.init(code: Code(rd_kafka_error_code(error)), message: context.isEmpty ? detail : "\(context): \(detail)")
    }

    public var description: String { "\(code.name) (\(code.rawValue)): \(message)" }
}

extension KafkaError {
    /// Throws when `err` is not `NO_ERROR`.
    static func check(_ err: rd_kafka_resp_err_t, _ context: @autoclosure () -> String) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context()) }
    }

    /// Throws when librdkafka returned an `rd_kafka_error_t` (which this destroys).
    static func check(_ error: OpaquePointer?, _ context: @autoclosure () -> String) throws(KafkaError) {
        if let error { throw KafkaError(consuming: error, context()) }
    }
}
