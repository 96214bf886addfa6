import Events
import Foundation

/// What a customer's link opens: one subject's page for one month, until it expires. Payload `{"s","m","e"}`
/// (subject, `YYYY-MM`, expiry in Unix seconds).
public struct PortalLink: Sendable, Equatable {
    public var subject: String
    public var month: String
    public var expires: Date

    public init(subject: String, month: String, expires: Date) {
        self.subject = subject
        self.month = month
        self.expires = expires
    }

    static let purpose = "link"

    func token(_ signer: PortalSigner) -> String {
        signer.seal(Self.purpose, .object([
            ("s", .string(subject)), ("m", .string(month)), ("e", .int(Int64(expires.timeIntervalSince1970.rounded(.down)))),
        ]))
    }

    /// The link a token stands for, when the signature holds, the fields are sound and it has not expired.
    init?(token: Substring, signer: PortalSigner, now: Date) {
        guard let payload = signer.open(Self.purpose, token),
              case .string(let subject)? = payload["s"], !subject.isEmpty, subject.utf8.count <= 256,
              case .string(let month)? = payload["m"], PortalLink.isMonth(month),
              case .int(let expiry)? = payload["e"], Double(expiry) > now.timeIntervalSince1970
        else { return nil }
        self.init(subject: subject, month: month, expires: Date(timeIntervalSince1970: Double(expiry)))
    }

    static func isMonth(_ text: String) -> Bool {
        guard let start = Timestamp(rfc3339: text + "-01T00:00:00Z") else { return false }
        return start.monthKey == text
    }
}

/// An opt-out form's token: bound to the link it was served with (the link's signature), to one purpose, and to a
/// random nonce that names this press; valid for `lifetime`. Payload `{"l","p","n","e"}`.
struct OptOutToken: Sendable, Equatable {
    static let purpose = "opt-out"
    /// Shorter than the day the outbox keeps sent rows, so a press can never be published twice.
    static let lifetime: TimeInterval = 3600

    var link: String
    var purposeKey: String
    var nonce: String
    var expires: Int64

    init(link: Substring, purpose: String, now: Date) {
        self.link = String(link.split(separator: ".").last ?? "")
        purposeKey = purpose
        var random = SystemRandomNumberGenerator()
        nonce = Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
        expires = Int64((now.timeIntervalSince1970 + Self.lifetime).rounded(.down))
    }

    func token(_ signer: PortalSigner) -> String {
        signer.seal(Self.purpose, .object([("l", .string(link)), ("p", .string(purposeKey)), ("n", .string(nonce)), ("e", .int(expires))]))
    }

    /// The token, when it is sound, unexpired and was made for this link and purpose.
    init?(token: Substring, link: Substring, purpose: String, signer: PortalSigner, now: Date) {
        guard let payload = signer.open(Self.purpose, token),
              case .string(let l)? = payload["l"], l == String(link.split(separator: ".").last ?? ""),
              case .string(let p)? = payload["p"], p == purpose,
              case .string(let n)? = payload["n"], !n.isEmpty,
              case .int(let e)? = payload["e"], Double(e) > now.timeIntervalSince1970
        else { return nil }
        self.link = l
        purposeKey = p
        nonce = n
        expires = e
    }

    /// The consent event's id: the same for every retry of this press, different for every other press.
    func eventID(_ signer: PortalSigner) -> String {
        "portal-" + Base64URL.encode(Array(signer.mac("event", Array("\(link)\u{0}\(purposeKey)\u{0}\(nonce)".utf8)).prefix(18)))
    }
}
