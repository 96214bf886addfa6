import Crypto
import Events
import Foundation

/// Signs and opens the portal's tokens: `<base64url(payload)>.<base64url(HMAC-SHA256(secret, purpose ‖ payload))>`.
/// The purpose (`link`, `opt-out`, `event`) separates the kinds, so a token of one kind never opens as another.
/// Comparison is constant-time (swift-crypto's `isValidAuthenticationCode`).
struct PortalSigner: Sendable {
    private let key: SymmetricKey

    init(secret: [UInt8]) { key = SymmetricKey(data: secret) }

    func mac(_ purpose: String, _ payload: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(purpose.utf8) + [0] + payload, using: key))
    }

    func seal(_ purpose: String, _ payload: JSONValue) -> String {
        let bytes = payload.bytes
        return Base64URL.encode(bytes) + "." + Base64URL.encode(mac(purpose, bytes))
    }

    /// Whether `code` is this signer's MAC of `payload` for `purpose` (constant-time).
    func verify(_ purpose: String, _ payload: [UInt8], code: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: Array(purpose.utf8) + [0] + payload, using: key)
    }

    /// The payload of a token this signer sealed for `purpose`, or nil for anything else.
    func open(_ purpose: String, _ token: Substring) -> JSONValue? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decode(parts[0]), let code = Base64URL.decode(parts[1]),
              verify(purpose, payload, code: code)
        else { return nil }
        return try? JSONValue.parse(String(decoding: payload, as: UTF8.self))
    }
}

/// base64url without padding (RFC 4648 §5), decoded strictly: one spelling per byte string.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ c in
            (65...90).contains(c) || (97...122).contains(c) || (48...57).contains(c) || c == 45 || c == 95
        }), text.utf8.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = [UInt8](data)
        // Unused trailing bits must be zero, or two spellings would decode alike.
        return encode(bytes) == text ? bytes : nil
    }
}
