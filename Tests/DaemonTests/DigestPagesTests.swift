import Daemon
import Digests
import Events
import Foundation
import Rules
import Testing

@Suite("Digest pages from a pipeline and a replay")
struct DigestPagesTests {
    @Test func contextFromTheDefaultPipeline() throws {
        let context = DigestContext(pipeline: try PipelineLoader().load(directory: Fixtures.defaultPipeline))
        #expect(context.organisation == Organisation(name: "Example Shop Ltd", contactEmail: "privacy@example.com",
                                                     privacyURL: "https://example.com/privacy"))
        #expect(context.retention == [
            RetentionPolicy(categories: ["user.behavior"], keep: .days(365), from: .collect),
            RetentionPolicy(categories: ["user.location.precise"], keep: .days(30), from: .collect),
            RetentionPolicy(categories: ["user.financial", "user.payment"], keep: .days(2555), from: .relationshipEnd),
        ])
        #expect(context.consentPurposes == ["marketing", "personalize", "third_party_sharing", "train_ai_system"])
        #expect(context.rules["erasure-deadline"]?.kind == "deadline" && context.rules.count == 9)
        #expect(context.optOut == nil)
    }

    /// Generated traffic, replayed to digests, read back and rendered in every language: nothing raw on any page.
    @Test func everySubjectRendersCleanly() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(Array(EventGenerator(.init(events: 3000, subjects: 40, seed: 7, months: 1, invalidRate: 0, duplicateRate: 0))),
                           to: input)
        _ = try Fixtures.replay([input], in: dir, until: "2026-02-01T00:00:00Z", digests: true)
        let archive = DigestArchive(directory: dir.appendingPathComponent("out-digests").path)
        #expect(archive.months() == ["2026-01"])
        let context = DigestContext(pipeline: try PipelineLoader().load(directory: Fixtures.defaultPipeline))
        let rawKey = /(>|: )[^<]*\b(user|system|essential|marketing|analytics|functional|personalize)\.[a-z_]+/
        let org = try archive.org(month: "2026-01")
        #expect(org.subjects == 40)
        for language in Language.allCases {
            let renderer = DigestRenderer(language: language, context: context)
            for page in [renderer.orgHTML(org), renderer.orgMarkdown(org)] {
                #expect(!page.contains("⟦") && page.firstMatch(of: rawKey) == nil, "\(language) org")
            }
            for n in 1...40 {
                let digest = try archive.subject("cust-\(n)", month: "2026-01")
                for page in [renderer.subjectHTML(digest), renderer.subjectMarkdown(digest)] {
                    let raw = page.firstMatch(of: rawKey).map { String($0.output.0) }
                    #expect(!page.contains("⟦") && raw == nil, "\(language) cust-\(n): \(raw ?? "")")
                }
            }
        }
    }
}
