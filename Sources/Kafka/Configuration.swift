import Foundation

/// One line of librdkafka's own log, handed to a `KafkaLogHandler`.
public struct KafkaLogRecord: Sendable {
    /// Syslog severity: 0 emergency … 3 error, 4 warning, 5 notice, 6 info, 7 debug.
    public let level: Int32
    /// librdkafka's facility (`FAIL`, `REQTMOUT`, `CGRPOP`, …), or `ERROR` for errors raised by the client.
    public let facility: String
    public let message: String

    public init(level: Int32, facility: String, message: String) {
        self.level = level
        self.facility = facility
        self.message = message
    }
}

extension KafkaLogRecord {
    /// The syslog levels this module logs at.
    public enum Level: Int32, Sendable {
        case error = 3
        case warning = 4
    }

    /// The facilities of the records this module writes itself (librdkafka's own have their own names).
    public enum Facility: String, Sendable {
        /// A client error reported through librdkafka's error callback.
        case error = "ERROR"
        case consume = "CONSUME"
        case rebalance = "REBALANCE"
        case commit = "COMMIT"
        case close = "CLOSE"
    }
}

/// Receives librdkafka's log lines and non-fatal client errors. Called on librdkafka's threads: keep it quick.
public typealias KafkaLogHandler = @Sendable (KafkaLogRecord) -> Void

/// Where log records go when no handler is configured: like librdkafka's own default, to stderr.
func defaultLogHandler(_ record: KafkaLogRecord) {
    FileHandle.standardError.write(Data("%\(record.level)|\(record.facility)| \(record.message)\n".utf8))
}

/// Where a consumer group starts on a partition that has no committed offset.
public enum AutoOffsetReset: String, Sendable {
    case earliest
    case latest
    /// Report an error instead of guessing.
    case error
}

/// What every client (producer, consumer, admin) is configured with.
///
/// The typed values become librdkafka properties; `properties` is passed through as is, after them, so it can set
/// any librdkafka property (TLS `ssl.*`, SASL `sasl.*`, `security.protocol`, `debug`, …) and override a typed value.
public protocol KafkaClientConfiguration: Sendable {
    var bootstrapServers: [String] { get }
    var clientID: String { get }
    /// Raw librdkafka properties, applied last.
    var properties: [String: String] { get }
    /// Gets librdkafka's log lines and client errors; `nil` leaves librdkafka's default (stderr).
    var logHandler: KafkaLogHandler? { get }
    /// The librdkafka properties the typed values stand for, before `properties`.
    var typedProperties: [(String, String)] { get }
}

extension KafkaClientConfiguration {
    /// Every property handed to librdkafka, in the order they are applied.
    var librdkafkaProperties: [(String, String)] {
        var result: [(String, String)] = [
            ("bootstrap.servers", bootstrapServers.joined(separator: ",")),
            ("client.id", clientID),
        ]
        result += typedProperties
        result += properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return result
    }
}

extension Duration {
    /// Whole milliseconds, clamped to what librdkafka's `int` timeouts take.
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, ms))
    }
}

/// An idempotent producer (`enable.idempotence=true`, hence `acks=all` and ordered retries).
public struct ProducerConfiguration: KafkaClientConfiguration {
    public var bootstrapServers: [String]
    public var clientID: String = "consentinel-producer"
    /// How long a message may take to be delivered, retries included, before its report fails (`message.timeout.ms`).
    public var messageTimeout: Duration = .seconds(120)
    /// How long to wait to fill a batch (`linger.ms`).
    public var linger: Duration = .milliseconds(5)
    /// `compression.codec`: `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    public var compression: String = "none"
    /// How many messages may wait in the client's queue (`queue.buffering.max.messages`).
    public var maxQueuedMessages: Int = 100_000
    public var properties: [String: String] = [:]
    public var logHandler: KafkaLogHandler?

    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    public var typedProperties: [(String, String)] {
        [
            ("enable.idempotence", "true"),
            ("message.timeout.ms", String(messageTimeout.milliseconds)),
            ("linger.ms", String(linger.milliseconds)),
            ("compression.codec", compression),
            ("queue.buffering.max.messages", String(maxQueuedMessages)),
        ]
    }
}

/// A consumer in a group. Offsets are stored only when the caller marks messages processed and are committed
/// every `commitInterval`, on revocation and on shutdown.
public struct ConsumerConfiguration: KafkaClientConfiguration {
    public var bootstrapServers: [String]
    public var clientID: String = "consentinel-consumer"
    public var groupID: String
    public var topics: [String]
    public var sessionTimeout: Duration = .seconds(45)
    public var heartbeatInterval: Duration = .seconds(3)
    public var maxPollInterval: Duration = .seconds(300)
    public var autoOffsetReset: AutoOffsetReset = .earliest
    /// How often stored offsets are committed in the background (`auto.commit.interval.ms`).
    public var commitInterval: Duration = .seconds(5)
    /// `partition.assignment.strategy`, e.g. `range,roundrobin` (eager) or `cooperative-sticky`; `nil` keeps
    /// librdkafka's default. Both protocols are handled.
    public var assignmentStrategy: String?
    /// The most messages in one batch.
    public var maxBatchSize: Int = 500
    /// How long to wait for more messages before a partly filled batch is handed over.
    public var batchLinger: Duration = .milliseconds(20)
    /// How many batches may wait for the caller before the consuming thread stops polling (backpressure).
    public var bufferedBatches: Int = 4
    /// The most kilobytes librdkafka pre-fetches into the consumer's queue (`queued.max.messages.kbytes`; its own
    /// default is 64 MiB).
    public var prefetchKilobytes: Int = 16_384
    /// When set, a reader that waited this long without an event gets `.idle`.
    public var idleInterval: Duration?
    /// How long an assignment or revocation waits for the caller to take it (and, for a revocation, to finish the
    /// batches before it) before the consumer goes on without it.
    public var rebalanceTimeout: Duration = .seconds(30)
    public var properties: [String: String] = [:]
    public var logHandler: KafkaLogHandler?

    public init(bootstrapServers: [String], groupID: String, topics: [String]) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
        self.topics = topics
    }

    public var typedProperties: [(String, String)] {
        var result: [(String, String)] = [
            ("group.id", groupID),
            ("session.timeout.ms", String(sessionTimeout.milliseconds)),
            ("heartbeat.interval.ms", String(heartbeatInterval.milliseconds)),
            ("max.poll.interval.ms", String(maxPollInterval.milliseconds)),
            ("auto.offset.reset", autoOffsetReset.rawValue),
            ("enable.auto.commit", "true"),
            ("auto.commit.interval.ms", String(commitInterval.milliseconds)),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("queued.max.messages.kbytes", String(prefetchKilobytes)),
        ]
        if let assignmentStrategy { result.append(("partition.assignment.strategy", assignmentStrategy)) }
        return result
    }
}

/// A client for cluster administration: topic creation and metadata.
public struct AdminConfiguration: KafkaClientConfiguration {
    public var bootstrapServers: [String]
    public var clientID: String = "consentinel-admin"
    public var properties: [String: String] = [:]
    public var logHandler: KafkaLogHandler?

    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    public var typedProperties: [(String, String)] { [] }
}
