import CRdKafka

/// A Kafka consumer in a group, subscribed to `configuration.topics`.
///
/// A thread of its own polls librdkafka and hands the caller an ordered `events` sequence: batches of messages
/// and assignment changes. Offsets are stored only for what the caller marks processed, committed every
/// `commitInterval`, when partitions are revoked (after the caller has handled the revocation) and on shutdown.
///
/// ```swift
/// let consumer = try Consumer(configuration: config)
/// for try await event in consumer.events {
///     switch event {
///     case .assigned(let change): try await consumer.seek(offsetsFromDatabase(change.partitions))
///     case .messages(let batch): process(batch); try consumer.markProcessed(batch)
///     case .revoked(let change): flushState(change.partitions)
///     }
/// }
/// ```
/// Read `events` from one task at a time; call `shutdown()` from outside that loop (or after it).
public final class Consumer: Sendable {
    public let configuration: ConsumerConfiguration
    private let client: KafkaClient
    private let core: ConsumerCore

    public init(configuration: ConsumerConfiguration) throws(KafkaError) {
        guard !configuration.topics.isEmpty else {
            throw KafkaError(code: .invalidArgument, message: "a consumer needs at least one topic")
        }
        self.configuration = configuration
        let core = ConsumerCore(configuration: configuration)
        let context = ClientContext(logHandler: configuration.logHandler, consumer: core)
        let client = try KafkaClient(kind: .consumer, properties: configuration.librdkafkaProperties, context: context)
        // Serve errors, logs and rebalances from rd_kafka_consumer_poll on the consumer thread.
        try KafkaError.check(rd_kafka_poll_set_consumer(client.handle), "poll_set_consumer")
        let topics = PartitionList(configuration.topics.map {
            TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA)
        })
        try KafkaError.check(rd_kafka_subscribe(client.handle, topics.pointer), "subscribe")
        self.client = client
        self.core = core
        core.start(client)
    }

    /// A reader rather than a group member: reads `assignment` (each partition from its offset) by manual assignment
    /// (`rd_kafka_assign`), never subscribes, joins no group and never commits (`enable.auto.commit=false`, whatever
    /// `configuration.properties` says), so it leaves the offsets of `configuration.groupID` as they are; give it a
    /// group id of its own all the same. `events` carries only `.messages`; `configuration.topics` is not used.
    public init(configuration: ConsumerConfiguration, assignment: [TopicPartitionOffset]) throws(KafkaError) {
        guard !assignment.isEmpty else {
            throw KafkaError(code: .invalidArgument, message: "a reader needs at least one partition")
        }
        self.configuration = configuration
        let core = ConsumerCore(configuration: configuration)
        let context = ClientContext(logHandler: configuration.logHandler, consumer: core)
        let properties = configuration.librdkafkaProperties + [("enable.auto.commit", "false")]
        let client = try KafkaClient(kind: .consumer, properties: properties, context: context)
        try KafkaError.check(rd_kafka_poll_set_consumer(client.handle), "poll_set_consumer")
        // Before the consumer thread starts, so no other thread touches the position yet.
        let list = PartitionList(assignment)
        try KafkaError.check(rd_kafka_assign(client.handle, list.pointer), "assign")
        self.client = client
        self.core = core
        core.start(client)
    }

    deinit {
        core.requestStop()
    }

    /// The consumer's events, in order. Ends after `shutdown()`, or throws when the consumer fails fatally.
    public var events: ConsumerEvents { ConsumerEvents(core: core) }

    /// Stores the offset after `message` for the next commit: everything before it in its partition is done.
    public func markProcessed(_ message: ConsumerMessage) throws(KafkaError) {
        try storeOffsets([TopicPartitionOffset(message.topicPartition, offset: message.offset + 1)])
    }

    /// Stores, for each partition in `batch`, the offset after its last message.
    public func markProcessed(_ batch: ConsumerBatch) throws(KafkaError) {
        try storeOffsets(batch.nextOffsets)
    }

    /// Stores offsets (each the offset of the next message to read) for the next commit. The partitions must be
    /// assigned to this consumer (`_STATE` otherwise).
    public func storeOffsets(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = PartitionList(offsets)
        try KafkaError.check(rd_kafka_offsets_store(client.handle, list.pointer), "store offsets")
        if let error = list.firstError("store offset") { throw error }
        core.recordStored(offsets)
    }

    /// Commits the stored offsets now and waits for the broker's answer.
    public func commit() async throws(KafkaError) {
        try await core.perform { .commit($0) }
    }

    /// Moves the consumer's position. While handling `.assigned`, this sets where a newly assigned partition
    /// starts (before any fetch); otherwise batches fetched after it start there (batches already handed over or
    /// queued are not taken back).
    public func seek(_ offsets: [TopicPartitionOffset]) async throws(KafkaError) {
        try await core.perform { .seek(offsets, $0) }
    }

    /// Stops fetching from partitions (backpressure); their position is kept.
    public func pause(_ partitions: [TopicPartition]) async throws(KafkaError) {
        try await core.perform { .pause(partitions, $0) }
    }

    /// Fetches again from paused partitions, from where they stood.
    public func resume(_ partitions: [TopicPartition]) async throws(KafkaError) {
        try await core.perform { .resume(partitions, $0) }
    }

    /// The group's committed offsets for `partitions`, as the broker knows them (`-1001`, `OFFSET_INVALID`, for
    /// none).
    public func committedOffsets(for partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [TopicPartitionOffset] {
        let client = self.client
        return try await onDedicatedThread(name: "kafka-committed") { () throws(KafkaError) in
            let list = PartitionList(partitions)
            try KafkaError.check(rd_kafka_committed(client.handle, list.pointer, timeout.milliseconds), "committed")
            if let error = list.firstError("committed") { throw error }
            return PartitionList.entries(list.pointer).map {
                TopicPartitionOffset(topic: String(cString: $0.topic), partition: $0.partition, offset: $0.offset)
            }
        }
    }

    /// Stops polling, revokes the assignment (the reader gets `.revoked` and the offsets stored by then are
    /// committed), leaves the group and ends `events`. Returns when all that is done.
    public func shutdown() async {
        core.requestStop()
        await core.waitUntilDone()
    }

    /// Asks for what `shutdown()` does without waiting for it (from a signal handler, say); `shutdown()` waits.
    public func requestShutdown() {
        core.requestStop()
    }
}

/// The ordered events of a `Consumer`. Buffering is bounded (`bufferedBatches`): while the reader is behind, the
/// consumer thread stops polling.
public struct ConsumerEvents: AsyncSequence, Sendable {
    public typealias Element = ConsumerEvent
    let core: ConsumerCore

    public func makeAsyncIterator() -> Iterator {
        Iterator(core: core)
    }

    public final class Iterator: AsyncIteratorProtocol {
        private let core: ConsumerCore

        init(core: ConsumerCore) {
            self.core = core
            core.readerAttached()
        }

        deinit {
            core.readerDetached()
        }

        /// The next event; asking for it acknowledges the assignment change handed out before. `nil` when the
        /// consumer is shut down or the task is cancelled.
        public func next() async throws -> ConsumerEvent? {
            try await core.next()
        }
    }
}
