import Alerts
import Events
import Foundation
import Kafka
import Logging
import Portal
import Rules

/// What `consentinel run` reads from the pipeline's `pipeline.yaml`, with `${VAR}` and `${VAR:-default}` taken
/// from the environment (secrets stay out of the file).
public struct DaemonConfiguration: Sendable {
    public struct KafkaSource: Sendable {
        public var bootstrapServers: String
        public var group: String
        public var topics: [String]
        /// librdkafka properties passed through as they are (TLS, SASL, tuning).
        public var properties: [String: String]
        /// `group.instance.id` (static membership): an instance that restarts under the same id gets its partitions
        /// back at once instead of after the session timeout. `nil`: a dynamic member.
        public var instanceID: String? = nil
        /// How long the group waits for a silent member before it gives its partitions to the others.
        public var sessionTimeout: Swift.Duration = DaemonConfiguration.defaultSessionTimeout

        /// The properties that say how to reach and authenticate to the brokers, for the producer and admin clients.
        public var connectionProperties: [String: String] {
            properties.filter { key, _ in DaemonConfiguration.connectionPrefixes.contains { key.hasPrefix($0) } }
        }
    }

    public struct Sink: Sendable {
        public var topic: String?
        public var file: String?
    }

    public var source: KafkaSource
    /// `sqlite:///path`, a plain path, or `postgres://user:pass@host:port/db`.
    public var stateURL: String
    public var violations: Sink
    public var deadLetters: Sink
    public var digests: Sink
    public var httpHost: String
    public var httpPort: Int
    /// A partition with no message for this long (wall clock) stops holding the watermark back.
    public var idleTimeout: Swift.Duration
    /// Consumption pauses while this many outputs wait to be published.
    public var maxOutboxDepth: Int
    /// The most events the partitions' event-time buffers hold together before the partitions furthest ahead are
    /// paused (`sources.kafka.max_buffered_events`, `BufferPacing`).
    public var maxBufferedEvents: Int = DaemonConfiguration.defaultMaxBufferedEvents
    /// How long any state store call may take before it counts as failed (`state.timeout`).
    public var storeTimeout: Swift.Duration = .seconds(60)
    /// How often, at most, a partition's state and offset are written (`state.checkpoint_interval`); batches between
    /// checkpoints commit only their outputs. Shorter than a batch takes: every batch is a checkpoint.
    public var checkpointInterval: Swift.Duration = DaemonConfiguration.defaultCheckpointInterval
    /// How long a publishing round's outputs are leased to the instance sending them (`sinks.lease`).
    public var outboxLease: Swift.Duration = DaemonConfiguration.defaultOutboxLease
    /// Producer properties for the sinks (default: the source's connection and security properties).
    public var producerProperties: [String: String]
    /// The customer portal, when `pipeline.yaml` has a `portal` section.
    public var portal: PortalConfiguration? = nil
    /// Alert routes and their channels (`alerts:`).
    public var alerts = AlertSettings()
    /// `/healthz` fails once a service has been stuck in one stage this long (`http.stall_limit`).
    public var stallLimit = DaemonStatus.defaultStallLimit

    /// Far longer than a publishing round takes while the brokers answer; the rows of an instance that dies wait this
    /// long. A round held up past it (a send is retried for up to `message.timeout.ms`, 120 s) can be sent again by
    /// another instance, under the same ids.
    public static let defaultOutboxLease: Swift.Duration = .seconds(60)
    /// A second of traffic at most is read again after a crash or a lost partition; a busy daemon writes each
    /// customer's state about once a second instead of once per batch.
    public static let defaultCheckpointInterval: Swift.Duration = .seconds(1)

    /// About 50 MB of decoded events (about 490 bytes each, by a heap profile).
    public static let defaultMaxBufferedEvents = 100_000
    static let prefetchKilobytes = 4_096

    /// Kafka's minimum by default (`group.min.session.timeout.ms`), so that an instance killed without a word is
    /// replaced within seconds; librdkafka heartbeats from a thread of its own, so a long batch does not end it.
    public static let defaultSessionTimeout: Swift.Duration = .seconds(6)

    /// librdkafka's log lines and client errors into the daemon's log, at the level librdkafka gives (syslog scale).
    public static func kafkaLogHandler(_ logger: Logger) -> KafkaLogHandler {
        { record in
            // The error callback reports errors librdkafka recovers from by itself (a broker connection that drops);
            // a fatal one stops the client and is thrown where it is used.
            let level: Logger.Level = switch record.level {
            case _ where record.facility == KafkaLogRecord.Facility.error.rawValue: .warning
            case ...2: .critical
            case 3: .error
            case 4: .warning
            case 5: .notice
            case 6: .info
            default: .debug
            }
            logger.log(level: level, "\(record.message)", metadata: [
                "source": "librdkafka", "facility": "\(record.facility)", "syslog_level": "\(record.level)",
            ])
        }
    }

    /// The consumer the daemon reads its source topics with (also what `bench kafka` measures raw librdkafka with).
    public func consumerConfiguration(logger: Logger? = nil) -> ConsumerConfiguration {
        var c = ConsumerConfiguration(
            bootstrapServers: source.bootstrapServers.split(separator: ",").map(String.init), groupID: source.group,
            topics: source.topics)
        c.sessionTimeout = source.sessionTimeout
        c.heartbeatInterval = source.sessionTimeout / 6
        c.properties = source.properties
        if let id = source.instanceID { c.properties["group.instance.id"] = id }
        c.idleInterval = .seconds(1)
        // Large batches (each is one store transaction), closed by the linger (20 ms) when traffic is light.
        c.maxBatchSize = 5_000
        // A second or so of traffic prefetched (librdkafka then lowers `fetch.max.bytes` to the same, unless it is set):
        // each prefetched message also costs librdkafka a queue entry, and a partition paused for being ahead
        // (`BufferPacing`) drops what was fetched for it. `properties` can raise it.
        c.prefetchKilobytes = Self.prefetchKilobytes
        if let logger { c.logHandler = Self.kafkaLogHandler(logger) }
        return c
    }

    /// The producer of the sinks, the portal's consent events and the Kafka alert channels.
    public func producerConfiguration(logger: Logger? = nil) -> ProducerConfiguration {
        var c = ProducerConfiguration(bootstrapServers: source.bootstrapServers.split(separator: ",").map(String.init))
        c.properties = producerProperties
        if let logger { c.logHandler = Self.kafkaLogHandler(logger) }
        return c
    }

    /// Source properties that also apply to the producer: how to reach and authenticate to the brokers.
    static let connectionPrefixes = ["security.", "sasl.", "ssl.", "socket.", "broker.", "client.", "api.version", "enable.ssl"]

    public static func load(pipeline: Pipeline, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(DaemonError) -> DaemonConfiguration
    {
        let reader = SettingsReader(settings: pipeline.settings, environment: environment) { DaemonError(.arguments, $0) }
        // Relative paths in pipeline.yaml are relative to the pipeline's folder.
        let resolve = pipeline.resolve
        func resolveStore(_ url: String) -> String {
            if url.hasPrefix("sqlite:///") || url.contains("://") { return url }
            if url.hasPrefix("sqlite:") { return "sqlite://" + resolve(String(url.dropFirst(7))) }
            return resolve(url)
        }
        let kafka = try reader.map(["sources", "kafka"], required: true)
        var source = KafkaSource(
            bootstrapServers: try reader.string(kafka, "bootstrap_servers", path: "sources.kafka") ?? "",
            group: try reader.string(kafka, "group", path: "sources.kafka") ?? "consentinel",
            topics: try reader.strings(kafka, "topics", path: "sources.kafka"),
            properties: try reader.properties(kafka, "properties", path: "sources.kafka"))
        source.sessionTimeout = try reader.duration(kafka, "session_timeout", path: "sources.kafka") ?? defaultSessionTimeout
        switch try reader.string(kafka, "instance_id", path: "sources.kafka") {
        case nil, "": break
        case "host": source.instanceID = ProcessInfo.processInfo.hostName
        case let id?: source.instanceID = id
        }
        guard !source.bootstrapServers.isEmpty else {
            throw DaemonError(.arguments, "sources.kafka.bootstrap_servers is required")
        }
        guard !source.topics.isEmpty else { throw DaemonError(.arguments, "sources.kafka.topics lists no topic") }
        let state = try reader.map(["state"], required: false)
        let sinks = try reader.map(["sinks"], required: false)
        func sink(_ name: String) throws(DaemonError) -> Sink {
            let m = sinks?[name]
            return Sink(topic: try reader.string(m, "topic", path: "sinks.\(name)"),
                        file: try reader.string(m, "file", path: "sinks.\(name)").map { resolve($0) })
        }
        let http = try reader.map(["http"], required: false)
        let port = try reader.port(http, "port", path: "http") ?? 9464
        let idle = try reader.string(kafka, "idle_timeout", path: "sources.kafka").map { text throws(DaemonError) -> Events.Duration in
            guard let d = Events.Duration(parsing: text) else { throw DaemonError(.arguments, "sources.kafka.idle_timeout must be a duration") }
            return d
        } ?? .seconds(30)
        let depth = try reader.string(sinks, "max_pending", path: "sinks").map { text throws(DaemonError) -> Int in
            guard let n = Int(text), n > 0 else { throw DaemonError(.arguments, "sinks.max_pending must be a positive number") }
            return n
        } ?? 50_000
        var configuration = DaemonConfiguration(
            source: source,
            stateURL: try reader.string(state, "url", path: "state").map(resolveStore) ?? "consentinel-state.sqlite",
            violations: try sink("violations"), deadLetters: try sink("dead_letters"), digests: try sink("digests"),
            httpHost: try reader.string(http, "host", path: "http") ?? "127.0.0.1", httpPort: port,
            idleTimeout: .microseconds(idle.microseconds), maxOutboxDepth: depth,
            producerProperties: try reader.properties(sinks, "properties", path: "sinks").isEmpty
                ? source.connectionProperties
                : try reader.properties(sinks, "properties", path: "sinks"))
        configuration.maxBufferedEvents = try reader.string(kafka, "max_buffered_events", path: "sources.kafka")
            .map { text throws(DaemonError) -> Int in
                guard let n = Int(text), n > 0 else {
                    throw DaemonError(.arguments, "sources.kafka.max_buffered_events must be a positive number")
                }
                return n
            } ?? defaultMaxBufferedEvents
        configuration.stallLimit = try reader.duration(http, "stall_limit", path: "http") ?? DaemonStatus.defaultStallLimit
        configuration.outboxLease = try reader.duration(sinks, "lease", path: "sinks") ?? defaultOutboxLease
        configuration.storeTimeout = try reader.duration(state, "timeout", path: "state") ?? .seconds(60)
        configuration.checkpointInterval = try reader.duration(state, "checkpoint_interval", path: "state") ?? defaultCheckpointInterval
        do {
            configuration.portal = try PortalConfiguration.load(reader.failing { PortalError(.arguments, $0) }, resolve: resolve)
        } catch {
            throw DaemonError(.arguments, error.message)
        }
        if let portal = configuration.portal, portal.port != 0, portal.port == configuration.httpPort,
           (portal.host ?? configuration.httpHost) == configuration.httpHost {
            throw DaemonError(.arguments, "portal.port \(portal.port) is http.port too: the portal needs a listener of its own")
        }
        do {
            configuration.alerts = try AlertSettings.load(pipeline: pipeline, reader: reader.failing { AlertError(.settings, $0) })
        } catch {
            throw DaemonError(.arguments, error.message)
        }
        return configuration
    }
}
