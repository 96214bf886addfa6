import Digests
import Events
import Foundation
import Processing
import Rules
import Testing

/// The privacy notice made from the default pipeline's rules, and what changes between two pipelines.
@Suite struct PolicyTests {
    static let defaultPipeline = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("pipelines/default").path

    @Test func theFactsAreThoseTheRulesEnforce() throws {
        let facts = PolicyFacts(pipeline: try PipelineLoader().load(directory: Self.defaultPipeline))
        #expect(facts.organisation.name == "Example Shop Ltd")
        #expect(facts.consentPurposes == ["marketing", "personalize", "third_party_sharing", "train_ai_system"])
        #expect(!facts.servicePurposes.contains("marketing") && facts.servicePurposes.contains("essential.service.operations.support"))
        #expect(facts.recipients == ["payment-processor", "email-provider", "analytics-partner", "ad-network"])
        #expect(facts.roles.map(\.role) == ["billing", "dpo", "engineer", "marketing", "security", "support"])
        #expect(facts.roles.first { $0.role == "support" }?.categories == ["user.name", "user.contact", "user.account"])
        #expect(facts.erasureWithin == .days(30))
        #expect(facts.retention.count == 3)
        // The sensitive categories list is data the rules guard; the whole `user` family adds nothing precise.
        #expect(facts.categories.contains("user.health_and_medical") && !facts.categories.contains("user"))
        #expect(facts.categories == facts.categories.sorted())
    }

    @Test(arguments: Language.allCases)
    func theNoticeSaysWhatTheRulesEnforceInEveryLanguage(_ language: Language) throws {
        let pipeline = try PipelineLoader().load(directory: Self.defaultPipeline)
        let facts = PolicyFacts(pipeline: pipeline), context = DigestContext(pipeline: pipeline)
        let c = language.catalog
        let html = DigestRenderer(language: language, context: context).policyHTML(facts)
        let markdown = DigestRenderer(language: language, context: context).policyMarkdown(facts)
        for text in [html, markdown] {
            #expect(!text.contains("⟦"), "\(language): a UI string is missing")
            for recipient in facts.recipients { #expect(text.contains(recipient)) }
        }
        #expect(!markdown.contains("{"), "\(language): a placeholder is left")
        for purpose in facts.consentPurposes { #expect(markdown.contains(c.useName(purpose)), "\(language): \(purpose)") }
        #expect(markdown.contains(c.text(.noticeErasureWithin, ["duration": c.duration(.days(30))])))
        for role in facts.roles.map(\.role) {
            let name = try #require(pipeline.texts[language.rawValue]?.roles[role], "\(language): the default pipeline names \(role)")
            #expect(markdown.contains("| \(name) |"))
        }
        #expect(markdown.contains(c.text(.noticeConsentPurposes)))
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("lang=\"\(language.rawValue)\""))
    }

    /// The default pipeline's notice, word for word, in each language (`CONSENTINEL_UPDATE_GOLDEN=1` rewrites the
    /// files after an intended change; review the difference).
    @Test(arguments: Language.allCases)
    func theDefaultNoticeIsItsGoldenFile(_ language: Language) throws {
        let pipeline = try PipelineLoader().load(directory: Self.defaultPipeline)
        let facts = PolicyFacts(pipeline: pipeline)
        let markdown = DigestRenderer(language: language, context: DigestContext(pipeline: pipeline)).policyMarkdown(facts)
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/notice-\(language.rawValue).md")
        if ProcessInfo.processInfo.environment["CONSENTINEL_UPDATE_GOLDEN"] == "1" { try markdown.write(to: golden, atomically: true, encoding: .utf8) }
        #expect(markdown == (try String(contentsOf: golden, encoding: .utf8)))
        // A facts round trip through JSON (as the daemon stores each version) gives the same notice.
        let again = try PolicyFacts(jsonText: facts.json.serialized)
        #expect(again == facts)
    }

    @Test func theJSONHoldsTheSameFacts() throws {
        let facts = PolicyFacts(pipeline: try PipelineLoader().load(directory: Self.defaultPipeline))
        let json = try JSONValue.parse(facts.json.serialized)
        #expect(json["erasure_within_seconds"] == .int(30 * 86_400) && json["consent_grace_seconds"] == .int(48 * 3_600))
        #expect(json["purposes"]?["with_consent"] == .array(facts.consentPurposes.map(JSONValue.string)))
        #expect(json["retention"]?.serialized.contains(#""from":"relationship_end""#) == true)
    }

    @Test func aDiffSaysWhatChangesForCustomers() throws {
        let pipeline = try PipelineLoader().load(directory: Self.defaultPipeline)
        let old = PolicyFacts(pipeline: pipeline), context = DigestContext(pipeline: pipeline)
        var new = old
        new.retention[0].keep = .days(180)
        new.recipients.append("data-broker")
        new.consentPurposes.removeAll { $0 == "train_ai_system" }
        new.erasureWithin = .days(14)
        new.consentGrace = .hours(24)
        new.roles.removeAll { $0.role == "dpo" }
        let en = PolicyChanges(from: old, to: new, language: .en, context: context)
        #expect(en.sentences == [
            "No longer: we use your data for “Training AI systems” only if you say yes",
            "New: we share data with data-broker",
            "We now keep “How you use our services” for 180 days instead of 1 year.",
            "No longer: Data protection officer may see All your data, for Meeting legal duties",
            "After you say no, we now stop within 1 day instead of 2 days.",
            "We now delete your data within 14 days of your request, instead of 30 days.",
        ])
        for language in Language.allCases {
            let text = PolicyChanges(from: old, to: new, language: language, context: context).text(language)
            #expect(text.split(separator: "\n").count == 6 && !text.contains("⟦") && !text.contains("{"), "\(language)")
            #expect(text.contains(context.texts[language]!.roles["dpo"]!), "\(language): the role by its name")
        }
        #expect(PolicyChanges(from: old, to: old, language: .fr).text(.fr) == "Rien ne change pour vous.\n")
    }
}
