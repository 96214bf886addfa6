import CRdKafka
import Foundation
import Synchronization

/// What librdkafka's callbacks reach through the client's opaque pointer. The `KafkaClient` that owns the
/// `rd_kafka_t` holds it strongly, so it outlives every callback.
final class ClientContext: Sendable {
    let logHandler: KafkaLogHandler?
    let delivery: DeliveryRegistry?
    let consumer: ConsumerCore?

    init(logHandler: KafkaLogHandler?, delivery: DeliveryRegistry? = nil, consumer: ConsumerCore? = nil) {
        self.logHandler = logHandler
        self.delivery = delivery
        self.consumer = consumer
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> ClientContext? {
        guard let opaque else { return nil }
        return Unmanaged<ClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }

    static func of(_ rk: OpaquePointer?) -> ClientContext? {
        guard let rk else { return nil }
        return from(rd_kafka_opaque(rk))
    }
}

/// Owns one `rd_kafka_t` and destroys it in `deinit`.
///
/// `@unchecked Sendable`: a C handle wrapper. librdkafka documents `rd_kafka_t` as thread-safe for all the calls
/// this module makes from several threads; calls that must stay on one thread (consumer poll, assign, seek, pause)
/// are made only by the consumer's own thread. The pointer itself never changes after `init`.
final class KafkaClient: @unchecked Sendable {
    enum Kind {
        case producer, consumer
    }

    let handle: OpaquePointer
    /// Its `client.id`, under which `KafkaClientCensus` counts it.
    let clientID: String
    /// Kept alive for as long as `handle`, since librdkafka calls back with a pointer to it.
    private let context: ClientContext

    init(kind: Kind, properties: [(String, String)], context: ClientContext) throws(KafkaError) {
        let conf = try Self.makeConf(properties)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        if context.logHandler != nil {
            rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
                guard let handler = ClientContext.of(rk)?.logHandler else { return }
                handler(KafkaLogRecord(
                    level: level,
                    facility: facility.map { String(cString: $0) } ?? "",
                    message: message.map { String(cString: $0) } ?? ""))
            }
            rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
                guard let handler = ClientContext.from(opaque)?.logHandler else { return }
                let detail = reason.map { String(cString: $0) } ?? ""
                let code = KafkaError.Code(rawValue: err)
                handler(KafkaLogRecord(
                    level: KafkaLogRecord.Level.error.rawValue, facility: KafkaLogRecord.Facility.error.rawValue,
                    message: "\(code.name): \(detail)"))
            }
        }
        if context.delivery != nil {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let registry = ClientContext.from(opaque)?.delivery else { return }
                registry.complete(message)
            }
        }
        if context.consumer != nil {
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let core = ClientContext.from(opaque)?.consumer else { return }
                core.rebalance(rk, err, partitions)
            }
        }
        var errstr = [CChar](repeating: 0, count: 512)
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        // On success rd_kafka_new takes the conf; on failure it is still ours.
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidArgument, message: "cannot create client: \(string(errstr))")
        }
        self.handle = handle
        self.context = context
        clientID = properties.last { $0.0 == "client.id" }?.1 ?? "rdkafka"
        KafkaClientCensus.live.withLock { $0[clientID, default: 0] += 1 }
    }

    deinit {
        rd_kafka_destroy(handle)
        KafkaClientCensus.live.withLock { $0[clientID, default: 1] -= 1 }
    }

    private static func makeConf(_ properties: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(code: .invalidArgument, message: "property \(key)=\(value): \(string(errstr))")
            }
        }
        return conf
    }
}

/// The clients alive in this process, by `client.id`: a client counts from `rd_kafka_new` until `rd_kafka_destroy`
/// has returned (its broker threads joined). A program that stopped its Kafka work can check that none is left
/// behind still connecting.
public enum KafkaClientCensus {
    static let live = Mutex<[String: Int]>([:])

    public static func alive(clientID: String) -> Int {
        live.withLock { $0[clientID] ?? 0 }
    }
}

/// A value handed to a thread, which takes it: once the thread lets go of it, no one else holds it.
final class Handoff<Value: Sendable>: Sendable {
    private let value: Mutex<Value?>

    init(_ value: Value) { self.value = Mutex(value) }

    func take() -> Value? { value.withLock { $0.take() } }
}

/// Owns an `rd_kafka_topic_partition_list_t` built from Swift values.
final class PartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ entries: [TopicPartitionOffset]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(1, entries.count)))
        for entry in entries {
            rd_kafka_topic_partition_list_add(pointer, entry.topic, entry.partition).pointee.offset = entry.offset
        }
    }

    init(_ partitions: [TopicPartition]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(1, partitions.count)))
        for p in partitions {
            rd_kafka_topic_partition_list_add(pointer, p.topic, p.partition)
        }
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    /// The first per-partition error, if any.
    func firstError(_ context: String) -> KafkaError? {
        Self.entries(pointer).first { $0.err != RD_KAFKA_RESP_ERR_NO_ERROR }.map {
            KafkaError($0.err, "\(context) \(String(cString: $0.topic))[\($0.partition)]")
        }
    }

    static func entries(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> UnsafeBufferPointer<rd_kafka_topic_partition_t> {
        UnsafeBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt))
    }

    static func partitions(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [TopicPartition] {
        guard let list else { return [] }
        return entries(list).map { TopicPartition(topic: String(cString: $0.topic), partition: $0.partition) }
    }
}

/// Runs blocking librdkafka calls (flush, admin requests, metadata) on a thread of their own, never on the
/// cooperative pool.
func onDedicatedThread<T: Sendable>(name: String, _ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
    let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
        let thread = Thread {
            do throws(KafkaError) {
                continuation.resume(returning: .success(try body()))
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        thread.name = name
        thread.start()
    }
    return try result.get()
}

/// The text in a NUL-terminated C buffer.
func string(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
