import Crypto
import Foundation
import Portal

/// The portal's tokens on any text. The input's first line is offered as a link token and its second line as an
/// opt-out form token for that link: a link that opens is the one token minted for it (re-signing its payload gives
/// the same token), and nothing opens under another secret. The whole input is also signed here as a payload, after
/// the documented format: a link that opens from it is sound and round-trips, and a form token never opens as a link.
enum PortalLinkProperties {
    static let secret = Array("the fuzz targets' portal secret, of thirty-two bytes or more".utf8)
    static let stranger = Array("another portal secret, also of thirty-two bytes or more".utf8)
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    static func check(_ input: [UInt8]) throws(PropertyFailure) {
        let text = String(decoding: input, as: UTF8.self)
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let token = lines[0]
        if let link = PortalLink(token: token, secret: secret, now: now) {
            try require(link.token(secret: secret) == token, "the link token \(token) opens, but \(link) mints another")
            if let payload = payload(of: token) {
                try require(seal(payload, "link", secret) == token, "re-signing the payload of \(token) gives another token")
            }
        }
        try require(PortalLink(token: token, secret: stranger, now: now) == nil, "\(token) opens under another secret")
        if lines.count == 2 {
            let form = lines[1]
            _ = PortalLink.acceptsOptOut(form, link: token, purpose: "marketing", secret: secret, now: now)
            try require(!PortalLink.acceptsOptOut(form, link: token, purpose: "marketing", secret: stranger, now: now),
                        "the form token \(form) holds under another secret")
        }

        let sealed = seal(input, "link", secret)
        if let link = PortalLink(token: sealed[...], secret: secret, now: now) {
            try require(!link.subject.isEmpty && link.subject.utf8.count <= 256, "a link opens with the subject \(link.subject)")
            try require(link.expires.timeIntervalSince1970 > now.timeIntervalSince1970, "an expired link opens")
            let minted = link.token(secret: secret)
            try require(PortalLink(token: minted[...], secret: secret, now: now) == link, "the token minted for \(link) opens otherwise")
        }
        try require(PortalLink(token: sealed[...], secret: stranger, now: now) == nil, "a payload signed here opens under another secret")
        try require(PortalLink(token: seal(input, "opt-out", secret)[...], secret: secret, now: now) == nil,
                    "a form token opens as a link")
    }

    /// `<base64url(payload)>.<base64url(HMAC-SHA256(secret, kind ‖ 0 ‖ payload))>`, written independently of the portal.
    static func seal(_ payload: [UInt8], _ kind: String, _ key: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(kind.utf8) + [0] + payload, using: SymmetricKey(data: key))
        return base64URL(payload) + "." + base64URL(Array(code))
    }

    static func payload(of token: Substring) -> [UInt8]? {
        guard let dot = token.firstIndex(of: ".") else { return nil }
        var text = token[..<dot].replacing("-", with: "+").replacing("_", with: "/")
        text += String(repeating: "=", count: (4 - text.utf8.count % 4) % 4)
        return Data(base64Encoded: String(text)).map(Array.init)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
    }
}
