@testable import Alerts
import Crypto
import Events
import Foundation
import Kafka
import Testing

@testable import Rules

/// Redaction as each channel type sends it: in the bytes that leave, not in a model of them.
@Suite("Alert redaction")
struct AlertRedactionTests {
    static let subject = "CUST-9431-SUBJ"
    static let actor = "agent-ACTOR-77"
    /// Every value of the evidence below, and the message's details taken from it.
    static let evidenceValues = ["EV-role-support", "EV-cat-health", "EV-mail@example.org", "987654", "EV-purpose-ads"]
    static let key = Secret("0123456789abcdef-test-hash-key")

    static func violation(_ id: String, actor: String? = Self.actor) -> Violation {
        let t = Timestamp(rfc3339: "2026-03-01T10:00:00Z")!
        return Violation(
            id: id, rule: "role-access", kind: .access, reason: "category_not_allowed", severity: .high, time: t,
            subject: subject, actor: actor, event: "e-\(id)", detectedAt: t,
            message: "\(actor ?? "someone") (role EV-role-support) accessed EV-cat-health of \(subject) for EV-purpose-ads.",
            evidence: .object([
                ("role", "EV-role-support"), ("categories", ["EV-cat-health"]),
                ("attributes", .object([("email", "EV-mail@example.org"), ("owner", .string(subject))])),
                ("count", 987654),
            ]))
    }

    static let single = AlertMessage(route: "security", violations: [AlertViolation(violation("v-1"))])
    static let group = AlertMessage(
        route: "security", violations: [AlertViolation(violation("v-1", actor: nil)), AlertViolation(violation("v-2", actor: nil))])

    static let redacted = AlertRedaction(subject: .hash, actor: .keep, evidence: .drop, key: key)
    static let everything = AlertRedaction(subject: .drop, actor: .hash, evidence: .drop, key: key)

    /// What `channel` of `type` sends for `message`, as bytes: the body a server received, or the line of a file.
    static func sent(_ type: String, _ message: AlertMessage, _ redaction: AlertRedaction) async throws -> String {
        if type == "jsonl" {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("redact-\(UUID().uuidString).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(await JSONLAlertChannel(path: path, redaction: redaction).deliver(message) == .delivered)
            return try String(contentsOfFile: path, encoding: .utf8)
        }
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let format: HTTPAlertChannel.Format =
            switch type {
            case "slack": .slack
            case "pagerduty": .pagerDuty(routingKey: Secret("R0UTING"))
            default: .webhook
            }
        let channel = HTTPAlertChannel(url: Secret(server.url("/hook")), format: format, redaction: redaction)
        #expect(await channel.deliver(message) == .delivered)
        return try #require(server.accepted("/hook").first).body
    }

    @Test(arguments: ["webhook", "slack", "pagerduty", "jsonl"], [single, group])
    func aRedactedPayloadHoldsNeitherTheSubjectNorTheEvidence(_ type: String, _ message: AlertMessage) async throws {
        let bytes = try await Self.sent(type, message, Self.redacted)
        #expect(!bytes.contains(Self.subject), "\(type): \(bytes)")
        for value in Self.evidenceValues { #expect(!bytes.contains(value), "\(type) sends \(value): \(bytes)") }
        #expect(bytes.contains(AlertRedaction.token(Self.subject, key: Self.key)), "the subject's token stands in")
        if message.sample.actor != nil { #expect(bytes.contains(Self.actor), "the actor is kept") }

        let hidden = try await Self.sent(type, message, Self.everything)
        for value in [Self.subject, Self.actor] + Self.evidenceValues {
            #expect(!hidden.contains(value), "\(type) sends \(value): \(hidden)")
        }
        if message.sample.actor != nil { #expect(hidden.contains(AlertRedaction.token(Self.actor, key: Self.key))) }

        let kept = try await Self.sent(type, message, .none)
        #expect(kept.contains(Self.subject), "\(type) keeps the subject")
        if type != "slack" {
            // Slack's blocks carry the message, not the evidence itself.
            for value in Self.evidenceValues { #expect(kept.contains(value), "\(type) keeps \(value)") }
        } else {
            #expect(kept.contains("EV-cat-health"))
        }
    }

    @Test func aKafkaMessageIsRedactedKeyAndValue() async throws {
        let (cluster, producer) = try alertTopicProducer()
        let channels = [
            KafkaAlertChannel(producer: producer, topic: "privacy.alerts", redaction: Self.redacted),
            KafkaAlertChannel(producer: producer, topic: "privacy.alerts", redaction: Self.everything),
            KafkaAlertChannel(producer: producer, topic: "privacy.alerts"),
        ]
        for channel in channels { #expect(await channel.deliver(Self.single) == .delivered) }
        await producer.shutdown()
        let consumer = try Consumer(
            configuration: ConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: "reader", topics: []),
            assignment: [TopicPartitionOffset(topic: "privacy.alerts", partition: 0, offset: 0)])
        var records: [ConsumerMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        for try await event in consumer.events {
            if case .messages(let batch) = event { records += batch.messages }
            if records.count >= 3 || ContinuousClock.now > deadline { break }
        }
        await consumer.shutdown()
        try #require(records.count == 3)
        let texts = records.map { String(decoding: ($0.key ?? []) + [10] + $0.value, as: UTF8.self) }
        for text in texts.prefix(2) {
            #expect(!text.contains(Self.subject))
            for value in Self.evidenceValues { #expect(!text.contains(value)) }
        }
        #expect(records[0].key == Array(AlertRedaction.token(Self.subject, key: Self.key).utf8))
        #expect(records[1].key == Array("v-1".utf8), "a dropped subject: keyed by the violation id")
        #expect(records[2].key == Array(Self.subject.utf8) && texts[2].contains("EV-mail@example.org"))
    }

    /// The subject hashed, the evidence kept: the subject is replaced inside the evidence and the message too.
    @Test func theSubjectIsReplacedWhereverItAppears() async throws {
        let bytes = try await Self.sent("webhook", Self.single, AlertRedaction(subject: .hash, key: Self.key))
        let token = AlertRedaction.token(Self.subject, key: Self.key)
        #expect(!bytes.contains(Self.subject))
        for value in Self.evidenceValues { #expect(bytes.contains(value)) }
        #expect(bytes.contains("\"owner\":\"\(token)\"") && bytes.contains("EV-cat-health of \(token) for"))
        let dropped = try await Self.sent("webhook", Self.single, AlertRedaction(subject: .drop, actor: .drop))
        #expect(!dropped.contains(Self.subject) && !dropped.contains(Self.actor))
        #expect(dropped.contains("[actor] (role EV-role-support) accessed EV-cat-health of [subject] for"))
        #expect(!dropped.contains("\"subject\":") && !dropped.contains("\"actor\":"))
    }

    /// `h:` and the first 8 bytes of HMAC-SHA256(key, value), in hex: the same for every alert, another with another key.
    /// Whole words only, in keys and numbers too: the subject `42` is not the 42 inside `x42` or 142.
    @Test func aShortSubjectIsReplacedAsAWholeWordInKeysAndNumbersToo() throws {
        let token = AlertRedaction.token("42", key: Self.key)
        let v = try AlertViolation(json: .object([
            ("id", "v-42"), ("rule", "r"), ("kind", "match"), ("reason", "matched"), ("severity", "high"),
            ("time", "2026-03-01T10:00:00Z"), ("subject", "42"), ("event", "e-1"), ("detected_at", "2026-03-01T10:00:00Z"),
            ("message", "42 was read by x42 142 times; 42."),
            ("evidence", .object([("n", .int(42)), ("m", .int(142)), ("ids", .array(["42", "x42"])), ("42", "value")])),
        ]))
        let out = AlertRedaction(subject: .hash, key: Self.key).apply(v)
        #expect(out.message == "\(token) was read by x42 142 times; \(token).")
        let evidence = out.json["evidence"]?.serialized ?? ""
        #expect(evidence == #"{"n":"\#(token)","m":142,"ids":["\#(token)","x42"],"\#(token)":"value"}"#, "\(evidence)")
    }

    @Test func theTokenIsAKeyedHMAC() {
        let code = HMAC<SHA256>.authenticationCode(for: Data(Self.subject.utf8), using: SymmetricKey(data: Data(Self.key.value.utf8)))
        let expected = "h:" + Data(code).prefix(8).map { String(format: "%02x", $0) }.joined()
        #expect(AlertRedaction.token(Self.subject, key: Self.key) == expected)
        #expect(expected.count == 18)
        #expect(AlertRedaction.token(Self.subject, key: Secret("another-key-of-enough-length")) != expected)
        #expect(AlertRedaction.token("CUST-9432-SUBJ", key: Self.key) != expected)
    }

    @Test func theSetAsideNoticeIsNotRedacted() throws {
        let notice = try AlertViolation(json: .object([
            ("id", "set-aside:security/slack:9"), ("rule", .string(AlertDispatcher.setAsideRule)), ("severity", "high"),
            ("time", "2026-03-01T10:00:00Z"), ("subject", "security/slack"), ("message", "12 alerts were set aside"),
        ]))
        let message = AlertMessage(route: "security", violations: [notice])
        #expect(Self.everything.apply(message) == message)
    }

    static func settings(_ alerts: String, environment: [String: String] = [:]) throws -> [AlertChannelSettings] {
        let loaded = try pipeline("name: p\nalerts:\n" + alerts)
        return try AlertSettings.load(pipeline: loaded, environment: environment).routes.flatMap(\.channels)
    }

    static let everyType = """
              channels:
                - type: slack
                  url: https://hooks.slack.com/x
                - type: pagerduty
                  routing_key: k
                - type: webhook
                  url: http://soc/hook
                - type: kafka
                  topic: t
                - type: jsonl
                  file: a.jsonl
                - type: stderr
        """

    @Test func slackAndPagerDutyRedactByDefaultTheOthersKeep() throws {
        let withKey = try Self.settings(
            "  hash_key: ${KEY}\n  routes:\n    - name: a\n      min_severity: high\n" + Self.everyType,
            environment: ["KEY": Self.key.value])
        #expect(withKey.map(\.redaction.subject) == [.hash, .hash, .keep, .keep, .keep, .keep])
        #expect(withKey.map(\.redaction.evidence) == [.drop, .drop, .keep, .keep, .keep, .keep])
        #expect(withKey.map(\.redaction.actor) == Array(repeating: .keep, count: 6))
        #expect(withKey.allSatisfy { $0.redaction.key == Self.key })
        // Without a key nothing can be hashed: the subject is dropped instead.
        let withoutKey = try Self.settings("  routes:\n    - name: a\n      min_severity: high\n" + Self.everyType)
        #expect(withoutKey.map(\.redaction.subject) == [.drop, .drop, .keep, .keep, .keep, .keep])
    }

    @Test func aRoutesRedactAppliesToItsChannelsAndAChannelsOverridesIt() throws {
        let channels = try Self.settings("""
              hash_key: \(Self.key.value)
              routes:
                - name: a
                  min_severity: high
                  redact: {subject: hash, actor: hash}
                  channels:
                    - type: webhook
                      url: http://soc/hook
                    - type: slack
                      url: https://hooks.slack.com/x
                      redact:
                        subject: keep
                        evidence: keep
                    - type: stderr
                      redact: {actor: drop}
            """)
        #expect(channels.map(\.redaction.subject) == [.hash, .keep, .hash])
        #expect(channels.map(\.redaction.actor) == [.hash, .hash, .drop])
        #expect(channels.map(\.redaction.evidence) == [.keep, .keep, .keep])
    }

    @Test(arguments: [
        ("routes:\n    - name: a\n      redact: {subject: hash}\n      channels:\n        - type: stderr", "needs alerts.hash_key"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          redact: {actor: hash}", "needs alerts.hash_key"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          redact: {subjet: drop}", "has no key subjet"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          redact: {evidence: hash}", "evidence must be keep, drop"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          redact: {subject: mask}", "subject must be keep, hash, drop"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          redact: drop", "redact must be a mapping"),
        ("hash_key: short\n  routes:\n    - name: a\n      channels:\n        - type: stderr", "at least 16 characters"),
    ])
    func refusesBadRedaction(_ alerts: String, _ expected: String) throws {
        #expect {
            try Self.settings("  " + alerts + "\n")
        } throws: { error in
            "\(error)".contains(expected)
        }
    }
}
