@testable import Portal
import Events
import Foundation
import Testing

/// Signed links and opt-out tokens, without a server.
@Suite struct PortalLinkTests {
    static let signer = PortalSigner(secret: Array("a secret of at least thirty-two bytes, for tests".utf8))
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let link = PortalLink(subject: "cust-42", month: "2026-01", expires: now.addingTimeInterval(3600))
    static let alphabet = TokenEdits.alphabet
    static func altered(_ token: String, at index: Int, shift: Int) -> String { TokenEdits.altered(token, at: index, shift: shift) }

    @Test func aLinkOpensAsItWasMade() throws {
        let token = Self.link.token(Self.signer)
        #expect(PortalLink(token: token[...], signer: Self.signer, now: Self.now) == PortalLink(
            subject: "cust-42", month: "2026-01", expires: Date(timeIntervalSince1970: (Self.now.timeIntervalSince1970 + 3600).rounded(.down))))
        #expect(token.allSatisfy { Self.alphabet.contains($0) }, "URL-safe: \(token)")
    }

    @Test(arguments: [1, 7, 33, 64])
    func everyAlteredCharacterIsRefused(_ shift: Int) {
        let token = Self.link.token(Self.signer)
        for index in token.indices.map({ token.distance(from: token.startIndex, to: $0) }) {
            let bad = Self.altered(token, at: index, shift: shift)
            guard bad != token else { continue }
            #expect(PortalLink(token: bad[...], signer: Self.signer, now: Self.now) == nil, "altered at \(index): \(bad)")
        }
        for cut in 1..<token.count {
            #expect(PortalLink(token: token.prefix(cut), signer: Self.signer, now: Self.now) == nil)
        }
        #expect(PortalLink(token: (token + "A")[...], signer: Self.signer, now: Self.now) == nil)
    }

    @Test func expiredOtherCustomersAndOtherKindsAreRefused() {
        let token = Self.link.token(Self.signer)
        #expect(PortalLink(token: token[...], signer: Self.signer, now: Self.now.addingTimeInterval(3600)) == nil, "expired")
        // Another customer's payload under this link's signature, and the other way round.
        let other = PortalLink(subject: "cust-43", month: "2026-01", expires: Self.link.expires).token(Self.signer)
        let mine = token.split(separator: "."), theirs = other.split(separator: ".")
        #expect(PortalLink(token: (theirs[0] + "." + mine[1])[...], signer: Self.signer, now: Self.now) == nil)
        #expect(PortalLink(token: (mine[0] + "." + theirs[1])[...], signer: Self.signer, now: Self.now) == nil)
        // Signed with another secret; an opt-out token offered as a link.
        let stranger = PortalSigner(secret: Array("another secret of at least thirty-two bytes".utf8))
        #expect(PortalLink(token: token[...], signer: stranger, now: Self.now) == nil)
        let form = OptOutToken(link: token[...], purpose: "marketing", now: Self.now).token(Self.signer)
        #expect(PortalLink(token: form[...], signer: Self.signer, now: Self.now) == nil)
    }

    @Test func anOptOutTokenHoldsOnlyForItsLinkAndPurposeAndNotForever() throws {
        let token = Self.link.token(Self.signer)
        let press = OptOutToken(link: token[...], purpose: "marketing", now: Self.now)
        let form = press.token(Self.signer)
        let opened = try #require(OptOutToken(token: form[...], link: token[...], purpose: "marketing", signer: Self.signer, now: Self.now))
        #expect(opened.eventID(Self.signer) == press.eventID(Self.signer), "a retry of the press has the same event id")
        let again = OptOutToken(link: token[...], purpose: "marketing", now: Self.now)
        #expect(again.eventID(Self.signer) != press.eventID(Self.signer), "another press, another event")
        #expect(OptOutToken(token: form[...], link: token[...], purpose: "personalize", signer: Self.signer, now: Self.now) == nil)
        let otherLink = PortalLink(subject: "cust-43", month: "2026-01", expires: Self.link.expires).token(Self.signer)
        #expect(OptOutToken(token: form[...], link: otherLink[...], purpose: "marketing", signer: Self.signer, now: Self.now) == nil)
        #expect(OptOutToken(token: form[...], link: token[...], purpose: "marketing", signer: Self.signer,
                            now: Self.now.addingTimeInterval(OptOutToken.lifetime + 1)) == nil)
        #expect(OptOutToken(token: token[...], link: token[...], purpose: "marketing", signer: Self.signer, now: Self.now) == nil,
                "a link is not a form token")
    }

    @Test(arguments: ["", "A", "AA=", "AB", "A+", "A/", "Zg==", "Zh"])
    func base64URLIsDecodedStrictly(_ text: String) {
        // "AB" and "Zh" carry non-zero unused bits: other spellings of "\0" and "f".
        #expect(Base64URL.decode(text[...]) == (text.isEmpty ? [] : nil))
    }

    @Test func base64URLRoundTrips() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + n) & 0xFF) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)[...]) == bytes)
        }
    }

    @Test func mintingChecksItsArguments() throws {
        let portal = PortalConfiguration(secret: Array(repeating: 7, count: 32), consentTopic: "t", baseURL: "https://p.example.com")
        let url = try Portal.link(configuration: portal, subject: "cust-1", month: "2026-02", ttl: .days(1), now: Self.now)
        #expect(url.hasPrefix("https://p.example.com/portal/"))
        let token = url.dropFirst("https://p.example.com/portal/".count)
        let link = try #require(PortalLink(token: token, signer: PortalSigner(secret: portal.secret), now: Self.now))
        #expect(link.expires == Self.now.addingTimeInterval(86_400))
        #expect(throws: PortalError.self) { try Portal.link(configuration: portal, subject: "cust-1", month: "2026-13") }
        #expect(throws: PortalError.self) { try Portal.link(configuration: portal, subject: "", month: "2026-01") }
    }
}

@Suite struct PortalOriginTests {
    @Test(arguments: [
        ("https://portal.example", "https://portal.example:443", true),
        ("https://Portal.Example", "https://portal.example/", true),
        ("http://portal.example:80", "http://portal.example", true),
        ("https://portal.example:8443", "https://portal.example:8443/x", true),
        ("https://portal.example", "http://portal.example", false),
        ("https://portal.example", "https://portal.example:8443", false),
        ("https://portal.example", "https://evil.example", false),
    ])
    func originsCompareByScheme_host_andPort(_ a: String, _ b: String, _ same: Bool) throws {
        let x = try #require(Portal.normalisedOrigin(a)), y = try #require(Portal.normalisedOrigin(b))
        #expect((x == y) == same)
    }

    @Test func aMalformedOriginIsNoOrigin() {
        #expect(Portal.normalisedOrigin("null") == nil)
        #expect(Portal.normalisedOrigin("https://") == nil)
        #expect(Portal.normalisedOrigin("ftp://portal.example") == nil)
    }
}
