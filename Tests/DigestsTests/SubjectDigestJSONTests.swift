@testable import Digests
import Events
import Testing

@Suite("A subject digest's JSON line")
struct SubjectDigestJSONTests {
    static let t = Timestamp(microseconds: 1_767_225_600_000_000)

    /// Everything a line can hold, with names that need escaping and sort differently by bytes and by `String`.
    static var full: SubjectDigest {
        var d = SubjectDigest(subject: "cust-\"7\"\\\u{2028}", month: "2026-01")
        d.accessTotal = 12
        d.accessByPurpose = ["marketing": 3, "analytics": 9, "é-purpose": 1]
        d.accessByCategory = ["user.contact": 4, "user.name": 8]
        d.accessByRole = ["support": 12]
        d.accessBySystem = ["crm\n": 2, "warehouse": 10]
        d.useTotal = 2
        d.useByPurpose = ["analytics": 2]
        d.shares = [
            "zeta-ads": ["marketing": SubjectDigest.Share(categories: ["user.name", "user.contact"], count: 2)],
            "acme": ["analytics": SubjectDigest.Share(categories: [], count: 1),
                     "": SubjectDigest.Share(categories: ["user.device"], count: 5)],
        ]
        d.consent = [
            .init(time: t, purpose: "marketing", status: "granted", source: "web"),
            .init(time: t + .hours(1), purpose: "marketing", status: "withdrawn", source: nil),
        ]
        d.consentState = [.init(purpose: "marketing", status: "withdrawn", since: t + .hours(1), source: nil)]
        d.deletions = [.init(time: t + .hours(2), categories: ["*"]), .init(time: t + .hours(3), categories: ["a", "b"])]
        d.violationTotal = 3
        d.violationsByRule = ["role-access": 1, "consent-required": 2]
        return d
    }

    @Test("is byte for byte the compact JSON of the digest's tree")
    func bytesMatchTheTree() {
        for digest in [Self.full, SubjectDigest(subject: "", month: "2026-02")] {
            #expect(digest.jsonBytes == Array(digest.json.serialized.utf8))
        }
    }

    @Test("reads back as the digest it was written from")
    func readsBack() throws {
        let line = String(decoding: Self.full.jsonBytes, as: UTF8.self)
        let back = try SubjectDigest(jsonText: line)
        #expect(back.json.serialized == line)
        #expect(back.shares["acme"]?[""]?.count == 5)
    }
}
