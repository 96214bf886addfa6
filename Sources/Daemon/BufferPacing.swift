import Events
import Kafka

/// Bounds the events the partitions' event-time buffers hold together (`sources.kafka.max_buffered_events`).
///
/// The watermark is the minimum over the partitions, so a partition read ahead of the others in event time holds
/// its events until the slowest one catches up; librdkafka reads partitions in chunks, and one partition that is
/// slow to fetch lets all the others run ahead. A partition whose buffer holds more than its share of the limit is
/// paused (its next messages stay in Kafka); it is resumed when its buffer has drained to half its share, or at once
/// when it is the one holding the watermark back, so that pausing can never stop the watermark. Pausing changes
/// when a partition's messages are read, never which: librdkafka resumes after the last message it handed over.
struct BufferPacing {
    /// The most events the buffers hold together, before what the batches already read add.
    let limit: Int
    /// Below this share a partition would be paused and resumed every few events, each time dropping what librdkafka
    /// had fetched for it: the limit is then exceeded rather than the partitions churned.
    static let smallestShare = 100

    private(set) var paused: Set<TopicPartition> = []

    init(limit: Int) { self.limit = limit }

    struct Partition {
        var buffered: Int
        var localWatermark: Timestamp?
    }

    struct Decision: Equatable {
        var pause: [TopicPartition] = []
        var resume: [TopicPartition] = []

        var isEmpty: Bool { pause.isEmpty && resume.isEmpty }
    }

    /// The events each partition may buffer before it is paused.
    func share(assigned: Int) -> Int { max(Self.smallestShare, limit / max(1, assigned)) }

    /// Which partitions to pause and which to resume, from each assigned partition's buffer and the watermark;
    /// records the outcome as done.
    mutating func decide(_ partitions: [TopicPartition: Partition], watermark: Timestamp) -> Decision {
        paused.formIntersection(partitions.keys)
        let share = share(assigned: partitions.count)
        var decision = Decision()
        for (tp, p) in partitions.sorted(by: { $0.key < $1.key }) {
            let holdsWatermarkBack = p.localWatermark.map { $0 <= watermark } ?? true
            if paused.contains(tp) {
                if p.buffered <= share / 2 || holdsWatermarkBack { decision.resume.append(tp) }
            } else if p.buffered > share && !holdsWatermarkBack {
                decision.pause.append(tp)
            }
        }
        paused.subtract(decision.resume)
        paused.formUnion(decision.pause)
        return decision
    }

    /// Forgets partitions the consumer no longer has (revoked, or all of them when the consumer is replaced).
    mutating func forget(_ partitions: some Sequence<TopicPartition>) {
        paused.subtract(partitions)
    }
}
