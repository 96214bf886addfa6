@testable import Alerts
import Foundation
import Kafka
import Testing

@testable import Daemon

@Suite("Kafka alert channel")
struct KafkaChannelTests {
    @Test func sendsTheAlertDocumentKeyedBySubjectWithTheViolationID() async throws {
        let (cluster, producer) = try alertTopicProducer()
        let message = AlertMessage(route: "security", violations: [AlertViolation(violation("v-7", subject: "cust-7"))])
        #expect(await KafkaAlertChannel(producer: producer, topic: "privacy.alerts").deliver(message) == .delivered)
        await producer.shutdown()

        let consumer = try Consumer(
            configuration: ConsumerConfiguration(
                bootstrapServers: [cluster.bootstrapServers], groupID: "alerts-reader", topics: []),
            assignment: [TopicPartitionOffset(topic: "privacy.alerts", partition: 0, offset: 0)])
        var received: ConsumerMessage?
        let deadline = ContinuousClock.now + .seconds(30)
        for try await event in consumer.events {
            if case .messages(let batch) = event, let first = batch.messages.first {
                received = first
                break
            }
            if ContinuousClock.now > deadline { break }
        }
        await consumer.shutdown()
        let record = try #require(received)
        #expect(record.key == Array("cust-7".utf8))
        #expect(record.headers.contains { $0.key == "consentinel-violation-id" && $0.value == Array("v-7".utf8) })
        let body = try #require(try JSONSerialization.jsonObject(with: Data(record.value)) as? [String: Any])
        #expect(body["type"] as? String == "consentinel.alert" && body["id"] as? String == "v-7")
        #expect(body["route"] as? String == "security" && body["count"] as? Int == 1)
    }

    /// A broker that never answers: the attempt fails after the channel's timeout (1 s), not the producer's message
    /// timeout (60 s), so that it ends within the channel's lease.
    @Test func anAttemptLastsAtMostTheChannelsTimeout() async throws {
        var config = ProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        config.messageTimeout = .seconds(60)
        let producer = try Producer(configuration: config)
        let message = AlertMessage(route: "security", violations: [AlertViolation(violation("v-8"))])
        let channel = KafkaAlertChannel(producer: producer, topic: "privacy.alerts", timeout: .seconds(1))
        let started = ContinuousClock.now
        let outcome = await channel.deliver(message)
        let took = ContinuousClock.now - started
        guard case .retry(_, let reason) = outcome else {
            Issue.record("expected a retry, got \(outcome)")
            return
        }
        #expect(reason.contains("no delivery report"))
        // 1 s asked; far below the producer's 60 s (a generous margin for a loaded machine).
        #expect(took < .seconds(20))
        await producer.shutdown(timeout: .milliseconds(100))
    }
}
