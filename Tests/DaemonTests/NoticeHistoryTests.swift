import Digests
import Events
import Foundation
import Portal
import Processing
import Rules
import Storage
import Testing

/// The notice versions the daemon records, and what a month's page says about them.
@Suite struct NoticeHistoryTests {
    static func time(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

    @Test func aMonthsChangeIsTheNoticeAtItsStartAgainstItsEnd() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStateStore(path: dir.appendingPathComponent("state.sqlite").path)
        let history = NoticeHistory(store: store, pipeline: "p")
        let before = PolicyFacts(pipeline: try PipelineLoader().load(directory: Fixtures.defaultPipeline))
        var after = before
        after.retention[0].keep = .days(180)

        try await history.record(before, at: Self.time("2026-01-10T08:00:00Z"))
        try await history.record(before, at: Self.time("2026-01-20T08:00:00Z"))  // a restart with the same rules
        try await history.record(after, at: Self.time("2026-02-15T08:00:00Z"))
        #expect(try await store.loadGlobal(namespace: "notice-versions:p").count == 2, "the same notice is recorded once")

        #expect(try await history.change(inMonth: "2026-01") == nil, "no notice before January: nothing to compare")
        let february = try #require(try await history.change(inMonth: "2026-02"))
        #expect(february.before == before && february.after == after)
        #expect(try await history.change(inMonth: "2026-03") == nil, "March ran under one notice")

        var context = DigestContext(pipeline: try PipelineLoader().load(directory: Fixtures.defaultPipeline))
        context.policyChange = february
        let page = DigestRenderer(language: .en, context: context).subjectMarkdown(SubjectDigest(subject: "c1", month: "2026-02"))
        #expect(page.contains("## Changes to our privacy notice"))
        #expect(page.contains("We now keep “How you use our services” for 180 days instead of 1 year."))
        context.policyChange = nil
        let plain = DigestRenderer(language: .en, context: context).subjectMarkdown(SubjectDigest(subject: "c1", month: "2026-03"))
        #expect(!plain.contains("Changes to our privacy notice"))
        await store.close()
    }
}
