import Events
import Foundation
import Kafka

/// Produces JSON event lines to a Kafka topic, in order: keyed by subject (so one customer's events stay in one
/// partition, in order) and stamped with the event's time, so that a replay by time range (`--since`/`--until`)
/// finds them. A line without a readable `time` (a broken one) gets the time of the line before it; one without a
/// `subject` has no key.
public enum TopicPublisher {
    /// Sends every line through `producer` (idempotent), keeping at most `window` messages awaiting their delivery
    /// reports. Returns how many were written; throws the first failed delivery.
    @discardableResult
    public static func publish<Lines: Sequence<String>>(
        _ lines: Lines, topic: String, producer: Producer, window: Int = 20_000
    ) async throws -> Int {
        var pending: [Delivery] = []
        var head = 0
        var lastTime: Int64?
        var sent = 0
        for line in lines {
            let bytes = Array(line.utf8)
            let subject = stringField("subject", in: bytes)
            if let time = stringField("time", in: bytes).flatMap({ Timestamp(rfc3339: String(decoding: $0, as: UTF8.self)) }) {
                lastTime = time.microseconds / 1000
            }
            while true {
                let queued = Result { () throws(KafkaError) in
                    try producer.enqueue(topic: topic, key: subject, value: bytes, timestamp: lastTime)
                }
                switch queued {
                case .success(let delivery):
                    pending.append(delivery)
                case .failure(let error):
                    // A full local queue: wait for the oldest delivery, then try again.
                    guard error.code == .queueFull, head < pending.count else { throw error }
                    _ = try await pending[head].report()
                    head += 1
                    continue
                }
                break
            }
            sent += 1
            while pending.count - head > window {
                _ = try await pending[head].report()
                head += 1
            }
            if head > 65_536 {
                pending.removeFirst(head)
                head = 0
            }
        }
        for delivery in pending[head...] { _ = try await delivery.report() }
        return sent
    }

    /// The bytes of a top-level `"name":"value"` string field as the generator writes it (no escapes in value).
    static func stringField(_ name: String, in line: [UInt8]) -> [UInt8]? {
        let needle = Array("\"\(name)\":\"".utf8)
        guard line.count > needle.count else { return nil }
        var i = 0
        while i + needle.count <= line.count {
            if line[i] == needle[0], Array(line[i..<(i + needle.count)]) == needle {
                let start = i + needle.count
                guard let end = line[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return Array(line[start..<end])
            }
            i += 1
        }
        return nil
    }
}
