import CRdKafka
import Foundation
import Synchronization

/// An idempotent Kafka producer.
///
/// `send` returns once the message's delivery report says it is written (with its partition and offset) and
/// throws the report's error otherwise; retries after broker errors are librdkafka's, without duplicates or
/// reordering (idempotence). A thread of its own serves the delivery reports.
public final class Producer: Sendable {
    public let configuration: ProducerConfiguration
    private let client: KafkaClient
    private let registry: DeliveryRegistry
    private let pollThread: PollThread

    public init(configuration: ProducerConfiguration) throws(KafkaError) {
        self.configuration = configuration
        let registry = DeliveryRegistry()
        let context = ClientContext(logHandler: configuration.logHandler, delivery: registry)
        let client = try KafkaClient(kind: .producer, properties: configuration.librdkafkaProperties, context: context)
        self.client = client
        self.registry = registry
        self.pollThread = PollThread(name: "kafka-producer-poll") { rd_kafka_poll(client.handle, 100) }
    }

    deinit {
        pollThread.stop()
    }

    /// Sends one message and waits for its delivery report.
    ///
    /// - Parameter partition: a partition, or `nil` to let the partitioner choose from the key.
    /// - Throws: `KafkaError` from the delivery report (e.g. `_MSG_TIMED_OUT`), or when the message could not be
    ///   queued. A full local queue is waited out (up to `messageTimeout`), not thrown.
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil
    ) async throws -> DeliveryReport {
        let deadline = ContinuousClock.now + configuration.messageTimeout
        while true {
            do {
                return try await withCheckedThrowingContinuation { continuation in
                    guard let id = registry.register(continuation) else {
                        continuation.resume(throwing: KafkaError(code: .destroyed, message: "producer is shut down"))
                        return
                    }
                    if let error = enqueue(topic: topic, key: key, value: value, headers: headers,
                                           partition: partition, id: id) {
                        registry.remove(id)?.resume(throwing: error)
                    }
                }
            } catch let error as KafkaError where error.code == .queueFull && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Waits until every queued message has its delivery report.
    public func flush(timeout: Duration) async throws(KafkaError) {
        let client = self.client
        try await onDedicatedThread(name: "kafka-producer-flush") { () throws(KafkaError) in
            try KafkaError.check(rd_kafka_flush(client.handle, timeout.milliseconds), "flush")
        }
    }

    /// Stops taking messages, waits up to `timeout` for those queued, fails what is left with `_PURGE_QUEUE` /
    /// `_PURGE_INFLIGHT` (or `_DESTROY`) and stops the poll thread. Idempotent.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        guard registry.close() else { return }
        let client = self.client
        let flushed: Void? = try? await flush(timeout: timeout)
        if flushed == nil {
            rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            // The poll thread serves the purged messages' reports; give it a moment.
            try? await flush(timeout: .seconds(1))
        }
        pollThread.stop()
        registry.failAll(KafkaError(code: .destroyed, message: "producer shut down before delivery"))
    }

    /// Queues a message (copied), or returns why it could not be queued.
    private func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?, id: UInt
    ) -> KafkaError? {
        var headerList: OpaquePointer?
        if !headers.isEmpty {
            headerList = rd_kafka_headers_new(headers.count)
            for header in headers {
                withOptionalBytes(header.value) { pointer, count in
                    _ = rd_kafka_header_add(headerList, header.key, -1, pointer, count)
                }
            }
        }
        let error: OpaquePointer? = topic.withCString { topicName in
            withOptionalBytes(key) { keyPointer, keyCount in
                withOptionalBytes(value) { valuePointer, valueCount in
                    var fields = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 6)
                    fields[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    fields[0].u.cstr = topicName
                    fields[1].vtype = RD_KAFKA_VTYPE_PARTITION
                    fields[1].u.i32 = partition ?? RD_KAFKA_PARTITION_UA
                    fields[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    fields[2].u.i = RD_KAFKA_MSG_F_COPY
                    fields[3].vtype = RD_KAFKA_VTYPE_KEY
                    fields[3].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
                    fields[3].u.mem.size = keyCount
                    fields[4].vtype = RD_KAFKA_VTYPE_VALUE
                    fields[4].u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePointer)
                    fields[4].u.mem.size = valueCount
                    fields[5].vtype = RD_KAFKA_VTYPE_OPAQUE
                    fields[5].u.ptr = UnsafeMutableRawPointer(bitPattern: id)
                    if let headerList {
                        var headerField = rd_kafka_vu_t()
                        headerField.vtype = RD_KAFKA_VTYPE_HEADERS
                        headerField.u.headers = headerList
                        fields.append(headerField)
                    }
                    return rd_kafka_produceva(client.handle, fields, fields.count)
                }
            }
        }
        guard let error else { return nil }  // librdkafka owns the headers now
        if let headerList { rd_kafka_headers_destroy(headerList) }
        return KafkaError(consuming: error, "produce to \(topic)")
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}

/// The sends waiting for their delivery reports, by the id passed to librdkafka as the message's opaque.
final class DeliveryRegistry: Sendable {
    typealias Waiter = CheckedContinuation<DeliveryReport, any Error>

    private struct State {
        var nextID: UInt = 1
        var waiting: [UInt: Waiter] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// An id for a new send, or `nil` once the producer is shut down.
    func register(_ waiter: Waiter) -> UInt? {
        state.withLock { state in
            guard !state.closed else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.waiting[id] = waiter
            return id
        }
    }

    func remove(_ id: UInt) -> Waiter? {
        state.withLock { $0.waiting.removeValue(forKey: id) }
    }

    /// Stops taking new sends; `false` if already closed.
    func close() -> Bool {
        state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
    }

    func failAll(_ error: KafkaError) {
        let waiters = state.withLock { state in
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    /// Called by librdkafka (on a polling thread) with a message's delivery report.
    func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
        let id = UInt(bitPattern: message.pointee._private)
        guard let waiter = remove(id) else { return }
        let report = message.pointee
        if report.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let topic = report.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            waiter.resume(throwing: KafkaError(report.err, "delivery to \(topic)[\(report.partition)]"))
        } else {
            waiter.resume(returning: DeliveryReport(
                topic: String(cString: rd_kafka_topic_name(report.rkt)),
                partition: report.partition,
                offset: report.offset))
        }
    }
}

/// A thread that runs `poll` (a blocking call with a short timeout) over and over until stopped.
final class PollThread: Sendable {
    private let stopped = Atomic<Bool>(false)

    init(name: String, _ poll: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) { poll() }
        }
        thread.name = name
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
    }
}
