import Alerts
import Kafka

/// Alerts to a Kafka topic with the daemon's idempotent producer, keyed by the violation's subject.
struct KafkaAlertChannel: AlertChannel {
    let producer: Producer
    let topic: String

    func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        do {
            _ = try await producer.send(
                topic: topic, key: Array(message.sample.subject.utf8),
                value: Array(AlertPayload.webhook(message).serialized.utf8),
                headers: [KafkaHeader(key: "consentinel-violation-id", value: Array(message.id.utf8))])
            return .delivered
        } catch {
            return .retry(after: nil, reason: "\(error)")
        }
    }
}
