@testable import Digests
import Events
import Foundation
import Testing

/// The privacy office's audit page: what it says, in every language, and how it lays out in headless Chromium.
@Suite("The audit of weak points")
struct AuditPageTests {
    static var january: OrgDigest {
        var o = OrgDigest(month: "2026-01")
        for v in [facts("role-access", role: "support", actor: "alice@corp", system: "crm", category: "user.financial"),
                  facts("retention-precise-location", kind: "retention", reason: "overdue", category: "user.location.precise")] {
            o.count(v)
        }
        o.subjectsWithViolations = 2
        return o
    }

    static var february: OrgDigest {
        var o = OrgDigest(month: "2026-02")
        for _ in 0..<3 { o.count(facts("role-access", role: "support", actor: "alice@corp", system: "crm", category: "user.financial")) }
        o.count(facts("role-access", role: "marketing", actor: "a.very.long.name.of.a.marketing.contractor@agency.example.com",
                      system: "customer-relationship-management-eu-west-1", category: "user.health_and_medical"))
        o.count(facts("sensitive-needs-ticket", kind: "match", reason: "missing_ticket", role: "marketing",
                      actor: "a.very.long.name.of.a.marketing.contractor@agency.example.com",
                      system: "customer-relationship-management-eu-west-1", category: "user.health_and_medical"))
        o.subjectsWithViolations = 3
        o.erasure = ErasureSummary(deadline: .days(30))
        o.erasure.requested = 4
        o.erasure.complete(requestedAt: time("2026-01-06T00:00:00Z"), at: time("2026-02-20T00:00:00Z"))
        o.erasure.complete(requestedAt: time("2026-02-01T00:00:00Z"), at: time("2026-02-04T00:00:00Z"))
        o.erasure.stillOpen(requestedAt: time("2026-01-20T00:00:00Z"), monthEnd: time("2026-03-01T00:00:00Z"))
        o.erasure.stillOpen(requestedAt: time("2026-02-10T00:00:00Z"), monthEnd: time("2026-03-01T00:00:00Z"))
        return o
    }

    static func time(_ s: String) -> Timestamp { Timestamp(rfc3339: s)! }

    static func facts(_ rule: String, kind: String = "access", reason: String = "category_not_allowed", role: String? = nil,
                      actor: String? = nil, system: String? = nil, category: String) -> ViolationFacts {
        ViolationFacts(rule: rule, kind: kind, reason: reason, severity: "high", time: time("2026-01-10T00:00:00Z"), subject: "c1",
                       actor: actor, role: role, system: system, categories: [category])
    }

    static let audit = Audit(february, previous: january)

    static func page(_ language: Language, _ audit: Audit = audit) -> String {
        DigestRenderer(language: language, context: Fixtures.context()).auditHTML(audit)
    }

    @Test("every text is there, with the change since the month before", arguments: Language.allCases)
    func text(_ language: Language) {
        let c = language.catalog
        let text = visibleText(Self.page(language)).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(!text.contains("⟦"), "\(language): a missing text")
        #expect(text.contains(c.text(.auditTitle, ["month": c.month("2026-02")])))
        #expect(text.contains(c.text(.auditIntro, ["org": "Example Shop Ltd", "month": c.month("2026-02"), "previous": c.month("2026-01")])))
        // 5 problems, 3 more than in January; the glance, the "worse" list and the tables say so.
        #expect(text.contains(c.text(.auditViolations) + " " + c.text(.auditChangeSince, ["change": "+3", "month": c.month("2026-01")]) + " 5"))
        let roleName = Fixtures.defaultTexts[language]!.roles["support"]!
        #expect(text.contains(roleName + " " + c.text(.auditWorseItem, ["dimension": c.text(.auditDimensionRole), "change": "+2",
                                                                         "previous": "1", "count": "3"])))
        #expect(text.contains(Fixtures.defaultTexts[language]!.ruleTitles["retention-precise-location"]!), "the rule that improved stays")
        #expect(text.contains("−1"), "with its fall")
        #expect(text.contains(c.categoryName("user.health_and_medical")))
        #expect(text.contains(c.text(.auditErasureDeadline, ["deadline": c.duration(.days(30))])))
        #expect(text.contains(c.text(.auditErasureMedian, ["median": c.text(.auditDays, count: 3), "max": c.text(.auditDays, count: 45)])))
        #expect(text.contains(c.text(.auditDaysRange, ["from": "35", "to": "41"])), "the open request of 40 days is in its week")
        #expect(text.contains(c.text(.auditSensitiveCaption)))
        #expect(!text.contains(c.text(.auditRetentionNone)), "January kept a location too long: the table shows it fell to 0")
    }

    @Test("a first month has nothing to compare with, and says what it lacks", arguments: Language.allCases)
    func firstMonth(_ language: Language) {
        let c = language.catalog
        let text = visibleText(Self.page(language, Audit(Self.january, previous: nil)))
        #expect(!text.contains("⟦"))
        #expect(text.contains(c.text(.auditNoPrevious)))
        #expect(text.contains(c.text(.auditErasureNone)) && text.contains(c.text(.auditSensitiveNone)))
        #expect(!text.contains(c.text(.columnLastMonth)), "no column for a month that is not there")
    }

    @Test("the median of the days taken", arguments: [([3: 1, 45: 1], 3), ([1: 1, 2: 1, 9: 1], 2), ([5: 4], 5), ([:], nil)] as [([Int: Int], Int?)])
    func median(_ histogram: [Int: Int], _ expected: Int?) {
        #expect(AuditPage.median(histogram) == expected)
    }

    @Test("nothing wider than the viewport", arguments: Language.allCases, [0, 1])
    func layout(_ language: Language, _ size: Int) throws {
        let (name, width, height) = Chromium.sizes[size]
        let m = try Chromium.measure(Self.page(language), width: width, height: height)
        #expect(m.scrollWidth <= width, "\(language) \(name): the audit is \(m.scrollWidth)px wide in a \(width)px viewport")
    }

    /// Kept in docs/ when `CONSENTINEL_UPDATE_SCREENSHOTS=1`.
    @Test("screenshots at phone and desktop size", arguments: [0, 1])
    func screenshot(_ size: Int) throws {
        let (name, width, height) = Chromium.sizes[size]
        let data = try Chromium.screenshot(Self.page(.en), width: width, height: height, docsName: "audit-\(name).png")
        #expect(PNGImage.problems(ofPage: data, width: width, height: height) == [])
    }
}
