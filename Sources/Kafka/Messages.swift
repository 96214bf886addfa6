/// A partition of a topic.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A partition and an offset in it: for a commit or a stored offset, the offset of the *next* message to read.
public struct TopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    public let offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public init(_ topicPartition: TopicPartition, offset: Int64) {
        self.init(topic: topicPartition.topic, partition: topicPartition.partition, offset: offset)
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// A Kafka record header. A header may have no value (`nil`), which is not the same as an empty one.
public struct KafkaHeader: Hashable, Sendable {
    public let key: String
    public let value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// Where a message was written, from its delivery report.
public struct DeliveryReport: Hashable, Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
}

/// A message read by a `Consumer`, copied out of librdkafka.
public struct ConsumerMessage: Hashable, Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: [UInt8]?
    /// The value; empty for a null value (tombstone).
    public let value: [UInt8]
    public let headers: [KafkaHeader]
    /// The record's timestamp in milliseconds since the Unix epoch (create or log-append time), when it has one.
    public let timestampMilliseconds: Int64?

    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8],
        headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// Messages handed over together, in the order they were read (per partition, in offset order).
public struct ConsumerBatch: Sendable {
    public let messages: [ConsumerMessage]

    public init(messages: [ConsumerMessage]) {
        self.messages = messages
    }

    /// For each partition in the batch, the offset to store once the whole batch is processed (last offset + 1).
    public var nextOffsets: [TopicPartitionOffset] {
        var next: [TopicPartition: Int64] = [:]
        for message in messages {
            next[message.topicPartition] = max(next[message.topicPartition] ?? Int64.min, message.offset + 1)
        }
        return next.sorted { $0.key < $1.key }.map { TopicPartitionOffset($0.key, offset: $0.value) }
    }
}

/// A change of the consumer's assignment.
public struct AssignmentChange: Sendable {
    public let partitions: [TopicPartition]
    /// For a revocation: the partitions were lost (the group moved on without us), so their offsets could not be
    /// committed; another member may already be reading them.
    public let lost: Bool
}

/// What a consumer hands to async code, in order.
public enum ConsumerEvent: Sendable {
    /// Messages read. Mark them processed (`Consumer.markProcessed`) once their effects are durable.
    case messages(ConsumerBatch)
    /// Partitions assigned to this consumer. While the caller handles this event (until it asks for the next
    /// one) the assignment waits, so the caller can load per-partition state and `seek` to where it wants to
    /// resume (e.g. offsets kept in a database); partitions not sought start at the committed offset.
    case assigned(AssignmentChange)
    /// Partitions taken away. Every batch of these partitions comes before this event; the revocation waits until
    /// the caller asks for the next event (so it can flush per-partition state), then commits the stored offsets.
    case revoked(AssignmentChange)
    /// Nothing came for `ConsumerConfiguration.idleInterval`: a moment for periodic work while no message flows.
    case idle
}
