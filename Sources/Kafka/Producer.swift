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
    /// - Parameter timestamp: the record's timestamp in milliseconds since the Unix epoch, or `nil` for now.
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil,
        timestamp: Int64? = nil
    ) async throws -> DeliveryReport {
        let deadline = ContinuousClock.now + configuration.messageTimeout
        while true {
            do {
                return try await withCheckedThrowingContinuation { continuation in
                    guard let id = registry.register(.continuation(continuation)) else {
                        continuation.resume(throwing: KafkaError(code: .destroyed, message: "producer is shut down"))
                        return
                    }
                    if let error = enqueue(topic: topic, key: key, value: value, headers: headers,
                                           partition: partition, timestamp: timestamp, id: id) {
                        registry.remove(id)?.fail(error)
                    }
                }
            } catch let error as KafkaError where error.code == .queueFull && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Queues one message without waiting for its delivery report: messages queued one after another keep their
    /// order (per partition). The returned `Delivery` tells the outcome. Throws `_QUEUE_FULL` at once when the
    /// local queue is full (wait for earlier deliveries, then try again).
    public func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil,
        timestamp: Int64? = nil
    ) throws(KafkaError) -> Delivery {
        let delivery = Delivery()
        guard let id = registry.register(.delivery(delivery)) else {
            throw KafkaError(code: .destroyed, message: "producer is shut down")
        }
        if let error = enqueue(topic: topic, key: key, value: value, headers: headers, partition: partition,
                               timestamp: timestamp, id: id) {
            _ = registry.remove(id)
            throw error
        }
        return delivery
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
        await pollThread.stopAndWait()
        registry.failAll(KafkaError(code: .destroyed, message: "producer shut down before delivery"))
    }

    /// Queues a message (copied), or returns why it could not be queued.
    private func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?, timestamp: Int64?,
        id: UInt
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
                    if let timestamp {
                        var timestampField = rd_kafka_vu_t()
                        timestampField.vtype = RD_KAFKA_VTYPE_TIMESTAMP
                        timestampField.u.i64 = timestamp
                        fields.append(timestampField)
                    }
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
    /// Who waits for a report: a `send` call, or a `Delivery` handed out by `enqueue`.
    enum Waiter: Sendable {
        case continuation(CheckedContinuation<DeliveryReport, any Error>)
        case delivery(Delivery)

        func fail(_ error: any Error) {
            switch self {
            case .continuation(let c): c.resume(throwing: error)
            case .delivery(let d): d.complete(.failure(error))
            }
        }

        func succeed(_ report: DeliveryReport) {
            switch self {
            case .continuation(let c): c.resume(returning: report)
            case .delivery(let d): d.complete(.success(report))
            }
        }
    }

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
        for waiter in waiters { waiter.fail(error) }
    }

    /// Called by librdkafka (on a polling thread) with a message's delivery report.
    func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
        let id = UInt(bitPattern: message.pointee._private)
        guard let waiter = remove(id) else { return }
        let report = message.pointee
        if report.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let topic = report.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            waiter.fail(KafkaError(report.err, "delivery to \(topic)[\(report.partition)]"))
        } else {
            waiter.succeed(DeliveryReport(
                topic: String(cString: rd_kafka_topic_name(report.rkt)),
                partition: report.partition,
                offset: report.offset))
        }
    }
}

/// The outcome of a message queued by `Producer.enqueue`: `report()` waits for its delivery report.
public final class Delivery: Sendable {
    private struct State {
        var result: Result<DeliveryReport, any Error>?
        var waiters: [CheckedContinuation<DeliveryReport, any Error>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// The delivery report; throws its error (e.g. `_MSG_TIMED_OUT`) when the message was not written.
    public func report() async throws -> DeliveryReport {
        try await withCheckedThrowingContinuation { continuation in
            let result = state.withLock { s in
                if s.result == nil { s.waiters.append(continuation) }
                return s.result
            }
            if let result { continuation.resume(with: result) }
        }
    }

    /// Whether the report has come.
    public var isComplete: Bool { state.withLock { $0.result != nil } }

    func complete(_ result: Result<DeliveryReport, any Error>) {
        let waiters = state.withLock { s in
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}

/// A thread that runs `poll` (a blocking call with a short timeout) over and over until stopped.
final class PollThread: Sendable {
    private let stopped = Atomic<Bool>(false)
    /// Left when the thread has stopped and let go of `poll` (and of what it holds: the client).
    private let running = DispatchGroup()

    init(name: String, _ poll: @escaping @Sendable () -> Void) {
        let work = Handoff(poll)
        running.enter()
        let thread = Thread { [self, work] in
            if let poll = work.take() {
                while !stopped.load(ordering: .acquiring) { poll() }
            }
            running.leave()
        }
        thread.name = name
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// Stops the thread and returns once it no longer polls or holds `poll`.
    func stopAndWait() async {
        stop()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            running.notify(queue: .global()) { done.resume() }
        }
    }
}
