@testable import Digests
import Events
import Foundation
import Processing
import Rules

/// Digests and contexts the rendering tests share.
enum Fixtures {
    static func time(_ s: String) -> Timestamp { Timestamp(rfc3339: s)! }

    /// A customer with something in every section, touching many taxonomy keys.
    static var fullSubject: SubjectDigest {
        var d = SubjectDigest(subject: "cust-42", month: "2026-01")
        d.accessTotal = 12
        d.accessByRole = ["support": 4, "billing": 3, "engineer": 2, "dpo": 1, "security": 1, "marketing": 1]
        d.accessByPurpose = ["essential.service.operations.support": 4, "essential.service.payment_processing": 3,
                             "essential.service.security": 3, "essential.legal_obligation": 1, "analytics": 1]
        d.accessByCategory = ["user.name": 5, "user.contact.email": 4, "user.financial.bank_account": 3, "user.device.ip_address": 2,
                              "user.location.precise": 1, "user.health_and_medical": 1, "user": 1]
        d.accessBySystem = ["crm": 7, "billing": 5]
        d.useTotal = 6
        d.useByPurpose = ["marketing.communications.email": 3, "personalize.content.profiled": 2, "train_ai_system": 1]
        d.shares = [
            "payment-processor": ["essential.service.payment_processing": .init(categories: ["user.payment", "user.name"], count: 2)],
            "ad-network": ["marketing.advertising.third_party.targeted": .init(categories: ["user.contact.email"], count: 1)],
        ]
        d.consent = [
            .init(time: time("2026-01-03T09:00:00Z"), purpose: "marketing", status: "granted", source: "web"),
            .init(time: time("2026-01-10T12:30:00Z"), purpose: "marketing", status: "withdrawn", source: "gpc"),
            .init(time: time("2026-01-20T08:00:00Z"), purpose: "train_ai_system", status: "granted", source: "app"),
        ]
        // Personalisation was allowed before this month and still is; third-party sharing was never asked.
        d.consentState = [
            .init(purpose: "marketing", status: "withdrawn", since: time("2026-01-10T12:30:00Z"), source: "gpc"),
            .init(purpose: "personalize", status: "granted", since: time("2025-11-02T08:15:00Z"), source: "email"),
            .init(purpose: "train_ai_system", status: "granted", since: time("2026-01-20T08:00:00Z"), source: "app"),
        ]
        d.deletions = [
            .init(time: time("2026-01-15T00:00:00Z"), categories: ["user.location.precise", "user.behavior.browsing_history"]),
            .init(time: time("2026-01-31T23:00:00Z"), categories: ["*"]),
        ]
        d.violationTotal = 9
        d.violationsByRule = ["consent-required": 3, "role-access": 2, "erasure-deadline": 1, "retention-precise-location": 1,
                              "custom-keep": 1, "mystery-rule": 1]
        return d
    }

    /// A customer whose month holds nothing but one violation (a timer that fired).
    static var onlyViolation: SubjectDigest {
        var d = SubjectDigest(subject: "cust-7", month: "2026-02")
        d.recordViolation(rule: "erasure-deadline")
        return d
    }

    static let hostile = #"<script>alert("x")</script>"#

    /// Every string that comes from data is an attack.
    static var hostileSubject: SubjectDigest {
        var d = SubjectDigest(subject: hostile + " & *bold* | [link](javascript:alert(1))", month: "2026-01")
        d.accessTotal = 1
        d.accessByRole = ["<img src=x onerror=alert(1)>": 1]
        d.accessByPurpose = ["analytics": 1]
        d.accessByCategory = ["user.name": 1]
        d.accessBySystem = ["</td><script>evil()</script>": 1]
        d.shares = [#""><script>steal()</script>"#: ["analytics": .init(categories: ["user.name"], count: 1)]]
        d.consent = [.init(time: time("2026-01-03T09:00:00Z"), purpose: "marketing", status: "granted", source: "<b>src</b>")]
        return d
    }

    static var org: OrgDigest {
        var o = OrgDigest(month: "2026-01")
        o.subjects = 300
        o.eventsByType = ["access": 12067, "use": 5310, "collect": 3092, "consent": 2651, "share": 1257, "delete": 803,
                          "erasure_request": 678, "relationship_end": 386]
        o.violationTotal = 4149
        o.violationsByRule = ["consent-required": 2288, "role-access": 1547, "undisclosed-recipient": 250, "sensitive-needs-ticket": 54,
                              "erasure-deadline": 9, "bulk-access": 1]
        o.violationsBySeverity = ["high": 4148, "critical": 1]
        o.subjectsWithViolations = 300
        o.accessesByPurpose = ["essential.service.operations.support": 2954, "essential.service.operations": 2928, "analytics": 1442]
        o.accessesByRole = ["support": 3056, "engineer": 3003, "intern": 976]
        o.accessesByCategory = ["user.name": 1650, "user.device": 2315, "user.health_and_medical": 124]
        o.sharesByRecipient = ["payment-processor": 260, "data-broker-x": 250]
        o.consentGranted = ["marketing": 370, "train_ai_system": 423]
        o.consentWithdrawn = ["marketing": 156, "third_party_sharing": 139]
        o.lateEvents = 3
        return o
    }

    /// The default pipeline's words for people (its `texts/`), as its context gives them to the pages.
    static let defaultTexts: [Language: DigestContext.Texts] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return DigestContext(pipeline: try! PipelineLoader().load(directory: root.appendingPathComponent("pipelines/default").path)).texts
    }()

    static let optOut = OptOutAction(url: "https://portal.example.com/digest/opt-out", csrfToken: "tok-123")

    static func context(optOut: OptOutAction? = nil) -> DigestContext {
        DigestContext(
            organisation: Organisation(name: "Example Shop Ltd", contactEmail: "privacy@example.com",
                                       privacyURL: "https://example.com/privacy", supervisoryAuthority: "the Data Protection Commission",
                                       supervisoryAuthorityURL: "https://www.dataprotection.ie/"),
            retention: [
                RetentionPolicy(categories: ["user.behavior"], keep: .days(365), from: .collect),
                RetentionPolicy(categories: ["user.location.precise"], keep: .days(30), from: .collect),
                RetentionPolicy(categories: ["user.financial", "user.payment"], keep: .days(2555), from: .relationshipEnd),
            ],
            rules: ["custom-keep": RuleSummary(kind: "retention", description: "Keep things short"),
                    "mystery-rule": RuleSummary(kind: "novel", description: "Our mystery rule")],
            consentPurposes: ["marketing", "personalize", "third_party_sharing", "train_ai_system"],
            optOut: optOut, texts: defaultTexts)
    }
}

/// What a reader (or a screen reader) gets from a page: the text outside tags and styles, plus `aria-label` values,
/// with the HTML entities decoded.
func visibleText(_ html: String) -> String {
    var s = html
    for (open, close) in [("<style>", "</style>"), ("<!--", "-->")] {
        while let a = s.range(of: open), let b = s.range(of: close, range: a.upperBound..<s.endIndex) {
            s.removeSubrange(a.lowerBound..<b.upperBound)
        }
    }
    var labels: [String] = []
    var rest = Substring(s)
    while let a = rest.range(of: "aria-label=\"") {
        let tail = rest[a.upperBound...]
        guard let end = tail.firstIndex(of: "\"") else { break }
        labels.append(String(tail[..<end]))
        rest = tail[end...]
    }
    let text = s.replacingOccurrences(of: "<[^>]*>", with: " ", options: .regularExpression)
    return ([text] + labels).joined(separator: "\n")
        .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
        .replacingOccurrences(of: "&amp;", with: "&")
}

/// Taxonomy keys that cannot pass for words (a dot or an underscore in them).
let keyLikeTaxonomyKeys: [String] = {
    let t = try! Taxonomy.builtin()
    return (t.categories.entries + t.uses.entries).map(\.key).filter { $0.contains(".") || $0.contains("_") }
}()
