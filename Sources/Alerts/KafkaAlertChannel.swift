import Kafka
import Synchronization

/// Alerts to a Kafka topic with the daemon's idempotent producer, keyed by the violation's subject (as redacted; the
/// violation id when the subject is dropped). An attempt waits at most the channel's `timeout` for the delivery
/// report (the producer's own message timeout is longer, and shared with the outputs): after that it counts as failed
/// and is retried; should the message still get through, the retry sends it again with the same
/// `consentinel-violation-id` header.
struct KafkaAlertChannel: AlertChannel {
    let producer: Producer
    let topic: String
    var timeout: Swift.Duration = .seconds(10)
    var redaction: AlertRedaction = .none

    func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        let (producer, topic, message) = (producer, topic, redaction.apply(message))
        let key = message.sample.subject.isEmpty ? message.id : message.sample.subject
        let outcome = await firstOf(timeout: timeout) { () async -> DeliveryOutcome in
            do {
                _ = try await producer.send(
                    topic: topic, key: Array(key.utf8),
                    value: AlertPayload.webhook(message).bytes,
                    headers: [KafkaHeader(key: "consentinel-violation-id", value: Array(message.id.utf8))])
                return .delivered
            } catch {
                return .retry(after: nil, reason: "\(error)")
            }
        }
        return outcome ?? .retry(after: nil, reason: "no delivery report from Kafka within \(timeout)")
    }
}

/// The result of `operation`, or `nil` when it takes longer than `timeout`; the operation is left to finish on its
/// own (`Producer.send` cannot be cancelled), unobserved.
func firstOf<T: Sendable>(
    timeout: Swift.Duration, _ operation: @escaping @Sendable () async -> T
) async -> T? {
    let slot = ContinuationSlot<T?>()
    return await withCheckedContinuation { continuation in
        slot.set(continuation)
        let timer = Task {
            try? await Task.sleep(for: timeout)
            slot.resume(nil)
        }
        Task {
            let value = await operation()
            slot.resume(value)
            timer.cancel()
        }
    }
}

/// A continuation resumed once, by whichever comes first.
private final class ContinuationSlot<T: Sendable>: Sendable {
    private let state = Mutex<CheckedContinuation<T, Never>?>(nil)

    func set(_ continuation: CheckedContinuation<T, Never>) { state.withLock { $0 = continuation } }

    func resume(_ value: T) {
        state.withLock { c -> CheckedContinuation<T, Never>? in defer { c = nil }; return c }?.resume(returning: value)
    }
}
