import Foundation
import Testing
@testable import Events

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test("valid date-times", arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("1970-01-01t00:00:00z", 0),
        ("1970-01-01 00:00:00Z", 0),
        ("1970-01-01T00:00:00.5Z", 500_000),
        ("1970-01-01T00:00:00.000001Z", 1),
        ("1970-01-01T00:00:00.123456789Z", 123_456),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1969-12-31T23:00:00-01:00", 0),
        ("1970-01-01T00:00:00-00:00", 0),
        ("1970-01-01T05:30:00+05:30", 0),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
        ("2000-02-29T12:00:00Z", 951_825_600_000_000),
        ("2024-12-31T23:59:59Z", 1_735_689_599_000_000),
        ("0001-01-01T00:00:00Z", -62_135_596_800_000_000),
        ("9999-12-31T23:59:59Z", 253_402_300_799_000_000),
        ("2024-05-01T23:30:00-23:59", 1_714_692_540_000_000),
    ])
    func valid(text: String, micros: Int64) throws {
        let t = try #require(Timestamp(rfc3339: text))
        #expect(t.microseconds == micros)
    }

    @Test("invalid date-times", arguments: [
        "", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00Z", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z",
        "2024-01-00T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-12-31T23:59:60Z",
        "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00+05:60", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00ZZ", "2024-01-01T00:00:00Z ", " 2024-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z", "2024/01/01T00:00:00Z", "2024-01-01X00:00:00Z", "+2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00,5Z", "２０２４-01-01T00:00:00Z", "2024-01-01T00:00:00.5", "2024-01-01T00:00:00.5+01:00x",
    ])
    func invalid(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test("printing and parsing round-trip", arguments: [
        Int64(0), 1, -1, 1_500, 1_714_564_800_250_000, -62_135_596_800_000_000, 253_402_300_799_999_999,
    ])
    func roundTrip(micros: Int64) throws {
        let t = Timestamp(microseconds: micros)
        #expect(Timestamp(rfc3339: t.rfc3339) == t)
    }

    @Test("printing", arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"), (1_500, "1970-01-01T00:00:00.001500Z"), (250_000, "1970-01-01T00:00:00.250Z"),
        (-1, "1969-12-31T23:59:59.999999Z"), (1_709_164_800_000_000, "2024-02-29T00:00:00Z"),
        (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"), (-62_135_596_800_000_000, "0001-01-01T00:00:00Z"),
    ])
    func printing(micros: Int64, text: String) {
        #expect(Timestamp(microseconds: micros).rfc3339 == text)
    }

    @Test("printing agrees with the calendar fields over many instants")
    func printingAgrees() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let micros = Int64(bitPattern: rng.next() % 253_402_300_800_000_000)
            let t = Timestamp(microseconds: micros)
            let (y, m, d) = t.civilDate
            let sod = t.secondOfDay
            let frac = micros % 1_000_000
            var expected = String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", y, m, d, sod / 3600, sod % 3600 / 60, sod % 60)
            if frac != 0 { expected += frac % 1000 == 0 ? String(format: ".%03lld", frac / 1000) : String(format: ".%06lld", frac) }
            #expect(t.rfc3339 == expected + "Z")
        }
    }

    @Test("calendar helpers")
    func calendar() throws {
        let t = try #require(Timestamp(rfc3339: "2024-02-29T13:45:00Z"))
        #expect(t.monthKey == "2024-02")
        #expect(t.hour == 13)
        #expect(t.weekday == 4) // a Thursday
        #expect(t.startOfMonth == Timestamp(rfc3339: "2024-02-01T00:00:00Z"))
        #expect(t.startOfNextMonth == Timestamp(rfc3339: "2024-03-01T00:00:00Z"))
        #expect(Timestamp(rfc3339: "2024-12-15T00:00:00Z")!.startOfNextMonth == Timestamp(rfc3339: "2025-01-01T00:00:00Z"))
        #expect(Timestamp(rfc3339: "1969-12-31T23:00:00Z")!.weekday == 3)
        #expect(CivilTime.isLeap(2000) && CivilTime.isLeap(2024) && !CivilTime.isLeap(1900) && !CivilTime.isLeap(2023))
    }
}

@Suite("Taxonomy")
struct TaxonomyTests {
    let tax = Fixtures.taxonomy

    @Test("the shipped fideslang 3.1.4 taxonomy")
    func shipped() {
        #expect(tax.categories.count == 85)
        #expect(tax.uses.count == 56)
        for key in ["user.contact.email", "user.behavior", "user.location.precise", "user.financial", "user.payment",
                    "user.health_and_medical", "user.biometric", "user.government_id", "user.criminal_history",
                    "user.demographic.age_range", "user.demographic.language", "user.device", "user.account",
                    "user.unique_id", "user.authorization", "user.name", "user.contact", "user"] {
            #expect(tax.categories.node(key) != nil, "\(key)")
        }
        for key in ["marketing", "personalize", "third_party_sharing", "train_ai_system", "analytics", "functional",
                    "essential.service.operations.support", "essential.service.payment_processing",
                    "essential.legal_obligation", "essential.service.operations", "essential.service.security",
                    "essential.fraud_detection"] {
            #expect(tax.uses.node(key) != nil, "\(key)")
        }
    }

    @Test("under: a key is under itself and its ancestors only", arguments: [
        ("user.contact.email", "user.contact", true), ("user.contact.email", "user", true),
        ("user.contact.email", "user.contact.email", true), ("user.contact", "user.contact.email", false),
        ("user.contact.email", "user.account", false), ("user", "user.contact", false),
        ("user.contact.phone_number", "user.contact", true), ("user.financial.bank_account", "user.financial", true),
    ])
    func under(key: String, ancestor: String, expected: Bool) throws {
        let a = try #require(tax.categories.node(key)), b = try #require(tax.categories.node(ancestor))
        #expect(a.isUnder(b) == expected)
    }

    @Test("under in the data-use tree")
    func usesUnder() throws {
        let targeted = try #require(tax.uses.node("marketing.advertising.first_party.targeted"))
        #expect(targeted.isUnder(try #require(tax.uses.node("marketing"))))
        #expect(!targeted.isUnder(try #require(tax.uses.node("marketing.communications"))))
        let lineage = tax.uses.lineage(of: targeted).map(\.key)
        #expect(lineage == ["marketing.advertising.first_party.targeted", "marketing.advertising.first_party",
                            "marketing.advertising", "marketing"])
        #expect(tax.uses.parent(of: try #require(tax.uses.node("marketing"))) == nil)
    }

    @Test("look-up by bytes equals look-up by string for every key")
    func bytesLookup() {
        for tree in [tax.categories, tax.uses] {
            for node in tree.nodes {
                let viaBytes = Array(node.key.utf8).withUnsafeBytes { tree.node(bytes: $0) }
                #expect(viaBytes == node && viaBytes?.key == node.key)
                #expect(Array((node.key + "x").utf8).withUnsafeBytes { tree.node(bytes: $0) } == nil)
            }
            #expect([UInt8]().withUnsafeBytes { tree.node(bytes: $0) } == nil)
        }
    }

    @Test("trees reject keys that are not dot paths or lack a parent")
    func rejects() {
        #expect(throws: TaxonomyError.self) { try Taxonomy.Tree(entries: [.init(key: "a.b", name: "")]) }
        #expect(throws: TaxonomyError.self) { try Taxonomy.Tree(entries: [.init(key: "a..b", name: "")]) }
        #expect(throws: TaxonomyError.self) { try Taxonomy.Tree(entries: [.init(key: "", name: "")]) }
    }

    @Test("extension adds keys; entries may omit name and description")
    func extended() throws {
        let extra = try JSONDecoder().decode([Taxonomy.Entry].self, from: Data(#"[{"key":"user.contact.pager"}]"#.utf8))
        #expect(extra[0].name == "user.contact.pager" && extra[0].description == "")
        let bigger = try tax.extended(categories: extra, uses: [])
        let pager = try #require(bigger.categories.node("user.contact.pager"))
        #expect(pager.isUnder(try #require(bigger.categories.node("user.contact"))))
        let decoder = EventDecoder(taxonomy: bigger)
        #expect((try? decoder.decode(eventJSON("collect", ["categories": #"["user.contact.pager"]"#])).get()) != nil)
        #expect(reason(eventJSON("collect", ["categories": #"["user.contact.pager"]"#])) == .unknownCategory)
    }
}
