@testable import Digests
import Events
import Foundation
import Testing

@Suite("Rendering")
struct RenderingTests {
    /// No raw taxonomy key, no missing UI string, no unfilled placeholder in what people read.
    static func expectClean(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let leftKeys = keyLikeTaxonomyKeys.filter { text.contains($0) }
        #expect(leftKeys.isEmpty, "\(what): raw taxonomy keys \(leftKeys)", sourceLocation: sourceLocation)
        let leftMessages = Message.allCases.map(\.rawValue).filter { text.contains($0) }
        #expect(leftMessages.isEmpty, "\(what): raw UI keys \(leftMessages)", sourceLocation: sourceLocation)
        #expect(!text.contains("⟦"), "\(what): a UI string is missing", sourceLocation: sourceLocation)
        #expect(!text.contains("{") && !text.contains("}"), "\(what): a placeholder is left", sourceLocation: sourceLocation)
    }

    @Test("a customer page with every section", arguments: Language.allCases)
    func fullSubjectHTML(_ language: Language) throws {
        let c = language.catalog, context = Fixtures.context(optOut: Fixtures.optOut)
        let html = DigestRenderer(language: language, context: context).subjectHTML(Fixtures.fullSubject)
        let text = visibleText(html)
        Self.expectClean(text, "\(language) html")
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"\(language.rawValue)\">"))
        #expect(html.contains(#"<meta name="viewport" content="width=device-width, initial-scale=1">"#))
        for landmark in ["<header", "<main", "<footer", "<caption>", "<th scope=\"col\""] { #expect(html.contains(landmark)) }
        #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("src="), "self-contained, no script")
        // Headings in order: one h1, then h2s.
        let levels = html.matches(of: /<h([1-6])[ >]/).map { Int(String($0.output.1))! }
        #expect(levels.first == 1 && levels.dropFirst().allSatisfy { $0 == 2 } && levels.count > 8)

        let d = Fixtures.fullSubject
        let names = d.accessByPurpose.keys.map(c.useName) + d.useByPurpose.keys.map(c.useName)
            + d.accessByCategory.keys.map(c.categoryName) + ["user.payment", "user.behavior.browsing_history"].map(c.categoryName)
            + d.accessByRole.keys.map { context.roleName($0, language: language) } + ["web", "gpc", "app"].map(c.sourceName)
        for name in names { #expect(text.contains(name), "\(language): '\(name)' is not on the page") }
        for rule in ["consent-required", "role-access", "erasure-deadline", "retention-precise-location"] {
            #expect(text.contains(context.ruleSentence(rule, language: language)!), "\(language): the sentence for \(rule)")
        }
        #expect(text.contains(c.kindSentences["retention"]!), "a custom rule is told by its kind")
        #expect(text.contains("Our mystery rule"), "a rule of an unknown kind is told by its description")
        // Retention: "Precise location: 30 days after we collect it", and years for 2555 days.
        #expect(text.contains(c.text(.retentionFromCollect, ["categories": c.categoryName("user.location.precise"), "duration": c.duration(.days(30))])))
        #expect(text.contains(c.duration(.days(2555))))
        for right in [Message.rightAccess, .rightCorrection, .rightErasure, .rightObjection] { #expect(text.contains(c.text(right))) }
        #expect(html.contains("href=\"mailto:privacy@example.com\"") && html.contains("href=\"https://example.com/privacy\""))
        #expect(text.contains("the Data Protection Commission"))
        #expect(text.contains(c.text(.deletedEverything)))
        #expect(text.contains(c.date(Fixtures.time("2026-01-10T12:30:00Z"))))

        // What stands for each purpose, since when and how, a choice of an earlier month included; a purpose never
        // asked says so. An opt-out form only where something is allowed (marketing was withdrawn this month, and
        // third-party sharing was never asked).
        let forms = html.matches(of: /<form method="post" action="https:\/\/portal.example.com\/digest\/opt-out" class="optout">/).count
        #expect(forms == 2)
        #expect(html.contains(#"<input type="hidden" name="csrf_token" value="tok-123">"#))
        #expect(html.contains(#"<input type="hidden" name="purpose" value="personalize">"#))
        #expect(html.contains(#"<input type="hidden" name="purpose" value="train_ai_system">"#))
        #expect(!html.contains(#"name="purpose" value="marketing""#) && !html.contains(#"name="purpose" value="third_party_sharing""#))
        #expect(text.contains(c.text(.optOutButton, ["purpose": c.useName("train_ai_system")])))
        #expect(text.contains(c.text(.choiceNeverAsked)))
        #expect(text.contains(c.date(Fixtures.time("2025-11-02T08:15:00Z"))), "the standing choice of an earlier month, with its date")
        #expect(text.contains(c.sourceName("email")))
    }

    @Test("per-purpose tokens, and the confirmation after an opt-out", arguments: Language.allCases)
    func optOutTokensAndConfirmation(_ language: Language) {
        var optOut = Fixtures.optOut
        optOut.purposeTokens = ["train_ai_system": "tok-ai"]
        var context = Fixtures.context(optOut: optOut)
        context.optOutSaved = "personalize"
        context.currentConsent["personalize"] = "withdrawn"
        let html = DigestRenderer(language: language, context: context).subjectHTML(Fixtures.fullSubject)
        #expect(html.contains(#"<input type="hidden" name="csrf_token" value="tok-ai"><input type="hidden" name="purpose" value="train_ai_system">"#))
        #expect(!html.contains(#"name="purpose" value="personalize""#), "just refused: no button any more")
        #expect(visibleText(html).contains(language.catalog.text(.choiceJustNow)))
        let c = language.catalog
        #expect(visibleText(html).contains(c.text(.optOutSaved, ["purpose": c.useName("personalize")])))
        Self.expectClean(visibleText(html), "\(language) confirmation")
    }

    @Test("without an opt-out action there are no forms", arguments: Language.allCases)
    func noForms(_ language: Language) {
        let html = DigestRenderer(language: language, context: Fixtures.context()).subjectHTML(Fixtures.fullSubject)
        #expect(!html.contains("<form") && !html.contains("<button"))
        #expect(visibleText(html).contains(language.catalog.useName("third_party_sharing")))
    }

    @Test("Markdown for email", arguments: Language.allCases)
    func markdown(_ language: Language) {
        let c = language.catalog
        let md = DigestRenderer(language: language, context: Fixtures.context(optOut: Fixtures.optOut)).subjectMarkdown(Fixtures.fullSubject)
        Self.expectClean(md, "\(language) md")
        #expect(md.hasPrefix("# " + Escape.markdown(c.text(.subjectTitle, ["month": c.month("2026-01")]), lineStart: true) + "\n"))
        #expect(md.contains("\n## " + c.text(.rightsHeading) + "\n"))
        #expect(md.contains("| " + c.text(.columnRecipient) + " |"))
        #expect(md.contains("](<mailto:privacy@example.com>)"))
        let withoutLinks = md.replacingOccurrences(of: #"\]\(<[^>]*>\)"#, with: "]", options: .regularExpression)
        #expect(!withoutLinks.contains("<"), "no HTML in the email text")
        #expect(md.contains(Escape.markdown(c.useName("marketing.communications.email"))))
    }

    @Test("hostile strings from the data are escaped", arguments: Language.allCases)
    func escaping(_ language: Language) {
        var context = Fixtures.context(optOut: OptOutAction(url: "javascript:alert(1)", csrfToken: #""><script>x()</script>"#))
        context.organisation.name = "<i>Evil & Co</i>"
        context.organisation.privacyURL = "javascript:alert(2)"
        let r = DigestRenderer(language: language, context: context)
        let html = r.subjectHTML(Fixtures.hostileSubject)
        #expect(!html.contains("<script"), "no script element")
        #expect(!html.contains("<img") && !html.contains("<b>") && !html.contains("<i>") && !html.contains("</td><script"))
        #expect(!html.contains("href=\"javascript") && !html.contains("action=\"javascript"), "no javascript: URL in href or action")
        #expect(!html.contains("<form"), "no forms posting to a refused URL")
        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;script&gt;steal()&lt;/script&gt;"))
        #expect(visibleText(html).contains("<i>Evil & Co</i>"), "shown as text")
        let md = r.subjectMarkdown(Fixtures.hostileSubject)
        #expect(!md.contains("<script") && !md.contains("<img") && !md.contains("<b>"))
        #expect(md.contains(#"\[link\](javascript:alert(1))"#), "no Markdown link from data")
        #expect(md.contains(#"\*bold\*"#) && md.contains(#"\|"#))
        let org = r.orgHTML(Fixtures.org)
        #expect(!org.contains("<i>Evil"))
    }

    @Test("a customer with only a violation", arguments: Language.allCases)
    func onlyViolation(_ language: Language) {
        let c = language.catalog, context = Fixtures.context(optOut: Fixtures.optOut)
        let r = DigestRenderer(language: language, context: context)
        let html = r.subjectHTML(Fixtures.onlyViolation)
        let text = visibleText(html)
        Self.expectClean(text, "\(language) html")
        let sentence = context.ruleSentence("erasure-deadline", language: language)!
        #expect(text.contains(c.text(.problemItem, ["problem": sentence], count: 1)))
        #expect(text.contains(c.text(.nothingThisMonth)))
        #expect(text.contains(c.month("2026-02")))
        let md = r.subjectMarkdown(Fixtures.onlyViolation)
        Self.expectClean(md, "\(language) md")
        // With no pipeline at all: no organisation, no retention rules, no consent purposes.
        let bare = DigestRenderer(language: language).subjectHTML(Fixtures.onlyViolation)
        Self.expectClean(visibleText(bare), "\(language) bare")
        #expect(visibleText(bare).contains(c.text(.retentionNone)))
    }

    @Test("the organisation report has labelled SVG bar charts", arguments: Language.allCases)
    func orgReport(_ language: Language) throws {
        let c = language.catalog, context = Fixtures.context()
        let r = DigestRenderer(language: language, context: context)
        let html = r.orgHTML(Fixtures.org)
        let text = visibleText(html)
        Self.expectClean(text, "\(language) org html")
        #expect(html.contains("<svg role=\"img\" aria-labelledby=\"chart-events-title chart-events-desc\""))
        #expect(html.contains("<title id=\"chart-events-title\">\(Escape.html(c.text(.orgEventsChart)))</title>"))
        let bars = html.matches(of: /<rect [^>]*class="bar"><title>/).count
        #expect(bars == 8 + 6 + 2 + 3 + 3 + 2, "one labelled bar per value")
        // The value stands as text next to its bar, and the label above it.
        #expect(html.contains(">\(Escape.html(c.eventTypeName("access")))</text>"))
        #expect(html.contains("class=\"bar-value\">\(c.number(12067))</text>"))
        #expect(html.contains("aria-label=\"\(Escape.html(c.eventTypeName("erasure_request"))): \(c.number(678))\""))
        let words = try #require(context.texts[language])
        #expect(text.contains(words.ruleTitles["consent-required"]!) && text.contains(c.severityName("critical")))
        #expect(text.contains(words.roles["engineer"]!) && text.contains("intern"), "a role the pipeline does not name, as written")
        #expect(text.contains(c.useName("essential.service.operations.support")))
        let md = r.orgMarkdown(Fixtures.org)
        Self.expectClean(md, "\(language) org md")
        #expect(md.contains("| " + Escape.markdown(c.eventTypeName("access")) + " | " + c.number(12067) + " | ████████████████████ |"))
    }

    @Test("a pipeline's words in the page's language, else the fallbacks")
    func pipelineWordsAndFallbacks() {
        let context = DigestContext(
            rules: ["custom": RuleSummary(kind: "retention", description: "Keep custom data short"), "bare": RuleSummary(kind: "novel")],
            texts: [
                .en: .init(roles: ["ops": "Operations", "support": "Support desk"], ruleTitles: ["custom": "Custom data kept too long"],
                           ruleSentences: ["custom": "We kept your custom data too long."]),
                .de: .init(roles: ["ops": "Betrieb"]),
            ])
        #expect(context.roleName("ops", language: .de) == "Betrieb")
        #expect(context.roleName("support", language: .de) == "Support desk", "else the English name")
        #expect(context.roleName("intern", language: .de) == "intern", "else as written")
        #expect(context.ruleTitle("custom", language: .en) == "Custom data kept too long")
        #expect(context.ruleTitle("custom", language: .de) == "Keep custom data short", "else the description")
        #expect(context.ruleTitle("bare", language: .de) == "bare", "else the id")
        #expect(context.ruleSentence("custom", language: .en) == "We kept your custom data too long.")
        #expect(context.ruleSentence("custom", language: .de) == nil, "no English sentence on a German page")

        // The customer's page: the rule's sentence, else its kind's, else one naming its description or id.
        var digest = SubjectDigest(subject: "c1", month: "2026-01")
        for rule in ["custom", "bare", "gone"] { digest.recordViolation(rule: rule) }
        #expect(visibleText(DigestRenderer(language: .en, context: context).subjectHTML(digest)).contains("We kept your custom data too long."))
        let de = visibleText(DigestRenderer(language: .de, context: context).subjectHTML(digest)), g = Catalog.german
        #expect(de.contains(g.kindSentences["retention"]!) && !de.contains("Keep custom data short"))
        #expect(de.contains(g.text(.unknownRule, ["rule": "bare"])) && de.contains(g.text(.unknownRule, ["rule": "gone"])))

        // The organisation report, the notice and its changes name roles and rules alike.
        var org = OrgDigest(month: "2026-01")
        org.violationTotal = 2
        org.violationsByRule = ["custom": 1, "bare": 1]
        org.violationsBySeverity = ["low": 2]
        org.accessesByPurpose = ["analytics": 3]
        org.accessesByRole = ["ops": 1, "support": 1, "intern": 1]
        let report = visibleText(DigestRenderer(language: .de, context: context).orgHTML(org))
        for name in ["Keep custom data short", "bare", "Betrieb", "Support desk", "intern"] { #expect(report.contains(name)) }
        let facts = PolicyFacts(organisation: Organisation(name: "Shop"),
                                roles: [.init(role: "ops", purposes: ["analytics"], categories: ["user.name"])])
        #expect(DigestRenderer(language: .de, context: context).policyMarkdown(facts).contains("| Betrieb |"))
        let gone = PolicyChanges(from: facts, to: PolicyFacts(organisation: facts.organisation), language: .de, context: context)
        #expect(gone.sentences.count == 1 && gone.sentences[0].contains("Betrieb"))
    }

    @Test func emptyOrgMonth() {
        let html = DigestRenderer(language: .en).orgHTML(OrgDigest(month: "2026-04"))
        #expect(html.contains("We found no problems this month.") && !html.contains("<svg"))
    }
}
