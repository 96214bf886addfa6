import Crypto
import Foundation

/// The signature of a webhook body (a channel with `signing_secret`): `Consentinel-Timestamp` is the time of the
/// attempt in Unix seconds, `Consentinel-Signature` is `v1=` and the hex HMAC-SHA256, keyed by the secret, of
/// `TIMESTAMP.BODY`. The receiver recomputes it over the bytes it received and refuses old timestamps, so a captured
/// request cannot be replayed later.
public enum WebhookSignature {
    public static let timestampHeader = "Consentinel-Timestamp"
    public static let signatureHeader = "Consentinel-Signature"

    /// The two headers, names and values, for `body` sent at `time`.
    public static func headers(body: [UInt8], secret: Secret, time: Date = Date()) -> [(String, String)] {
        let timestamp = String(Int64(time.timeIntervalSince1970))
        return [(timestampHeader, timestamp), (signatureHeader, signature(body: body, timestamp: timestamp, secret: secret))]
    }

    /// `v1=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY`.
    public static func signature(body: [UInt8], timestamp: String, secret: Secret) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.value.utf8)))
        hmac.update(data: Data((timestamp + ".").utf8))
        hmac.update(data: body)
        return "v1=" + hmac.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
