import Alerts
import Crypto
import Foundation
import Testing

/// Signed webhooks, checked as a receiver would: over the bytes it received, with the secret it was given.
@Suite("Webhook signatures")
struct WebhookSignatureTests {
    let message = AlertMessage(route: "security", violations: [AlertViolation(violation("v-1"))])
    let secret = "whsec-test-0123456789"

    /// The receiver's check: `v1=` HMAC-SHA256(secret, "TIMESTAMP.BODY") in hex, and a timestamp at most 5 minutes old.
    func verify(body: String, timestamp: String?, signature: String?, now: Date = Date()) -> Bool {
        guard let timestamp, let signature, let seconds = Double(timestamp), abs(now.timeIntervalSince1970 - seconds) <= 300
        else { return false }
        let code = HMAC<SHA256>.authenticationCode(
            for: Data((timestamp + "." + body).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return signature == "v1=" + Data(code).map { String(format: "%02x", $0) }.joined()
    }

    @Test func aReceiverVerifiesTheSignatureAndATamperedBodyFails() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let channel = HTTPAlertChannel(url: Secret(server.url("/hook")), format: .webhook, signingSecret: Secret(secret))
        #expect(await channel.deliver(message) == .delivered)
        let received = try #require(server.accepted("/hook").first)
        let (timestamp, signature) = (received.headers["consentinel-timestamp"], received.headers["consentinel-signature"])
        #expect(signature?.hasPrefix("v1=") == true && signature?.count == 67)
        #expect(verify(body: received.body, timestamp: timestamp, signature: signature))
        #expect(received.json["id"] as? String == "v-1")

        let tampered = received.body.replacingOccurrences(of: "\"severity\":\"high\"", with: "\"severity\":\"low\"")
        #expect(tampered != received.body)
        #expect(!verify(body: tampered, timestamp: timestamp, signature: signature))
        let later = String(Int(timestamp ?? "0")! + 1)
        #expect(!verify(body: received.body, timestamp: later, signature: signature), "the timestamp is signed too")
        #expect(!verify(body: received.body, timestamp: timestamp, signature: signature, now: Date().addingTimeInterval(301)))
    }

    @Test func withoutASecretNothingIsSigned() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        #expect(await HTTPAlertChannel(url: Secret(server.url("/hook")), format: .webhook).deliver(message) == .delivered)
        let received = try #require(server.accepted("/hook").first)
        #expect(received.headers["consentinel-signature"] == nil && received.headers["consentinel-timestamp"] == nil)
    }

    @Test func theSignatureIsOverTimestampDotBody() {
        // What Python's hmac.new(b"s3cr3t", b'1767225600.{"a":1}', hashlib.sha256) gives (docs/alerts.md's example).
        let signature = WebhookSignature.signature(body: Array("{\"a\":1}".utf8), timestamp: "1767225600", secret: Secret("s3cr3t"))
        #expect(signature == "v1=16aab8af5ff008fa42a186fcf0a919e21fe6044888f18a20b242f62a988a57e7")
        let headers = WebhookSignature.headers(body: [], secret: Secret("s"), time: Date(timeIntervalSince1970: 1_767_225_600))
        #expect(headers.map(\.0) == ["Consentinel-Timestamp", "Consentinel-Signature"] && headers[0].1 == "1767225600")
    }
}
