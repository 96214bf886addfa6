@testable import Digests
import Events
import Foundation
import Replay
import Rules
import Testing

/// The consent digest cases (carried across months, withdrawn within the grace period, late, never asked) replayed
/// through the default pipeline, and each customer's page read as the customer would: per purpose, the choice that
/// stands, since when, and an opt-out button exactly where the purpose is allowed; in every language, laid out in
/// headless Chromium at phone and desktop width. The expected choices (`pages.json` of each case) were worked out by
/// hand from the events.
@Suite("Standing choices on the customer's page")
struct ChoicesPageTests {
    struct Expected: Sendable, CustomStringConvertible {
        var case_: String
        var subject: String
        var month: String
        /// Purpose → (status, since); a consent purpose that is not here was never asked.
        var choices: [String: (status: String, since: Timestamp)]
        var description: String { "\(case_) \(subject) \(month)" }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cases = root.appendingPathComponent("Tests/DigestsTests/Cases")
    static let pipeline = try! PipelineLoader().load(directory: root.appendingPathComponent("pipelines/default").path)

    static let expectations: [Expected] = {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: cases.path)) ?? []).sorted()
        return names.flatMap { name -> [Expected] in
            guard let text = try? String(contentsOf: cases.appendingPathComponent("\(name)/pages.json"), encoding: .utf8),
                  case .array(let pages) = try? JSONValue.parse(text) else { return [] }
            return pages.map { page in
                func s(_ v: JSONValue?) -> String { if case .string(let x)? = v { return x }; return "" }
                var choices: [String: (status: String, since: Timestamp)] = [:]
                if case .object(let pairs)? = page["choices"] {
                    for (purpose, c) in pairs { choices[purpose] = (s(c["status"]), Timestamp(rfc3339: s(c["since"]))!) }
                }
                return Expected(case_: name, subject: s(page["subject"]), month: s(page["month"]), choices: choices)
            }
        }
    }()

    /// Each case replayed once, into a folder of its own.
    static let archives: [String: DigestArchive] = {
        var out: [String: DigestArchive] = [:]
        for name in Set(expectations.map(\.case_)) {
            let dir = cases.appendingPathComponent(name)
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("choices-\(name)-\(UUID().uuidString)")
            let until = (try? String(contentsOf: dir.appendingPathComponent("until"), encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try! ReplayJob(pipeline: pipeline, options: .init(
                inputs: [dir.appendingPathComponent("events.jsonl").path], until: until.flatMap { Timestamp(rfc3339: $0) },
                violations: work.appendingPathComponent("v.jsonl").path, digests: work.appendingPathComponent("d").path)).run()
            out[name] = DigestArchive(directory: work.appendingPathComponent("d").path)
        }
        return out
    }()

    static func page(_ e: Expected, _ language: Language) throws -> String {
        let digest = try archives[e.case_]!.subject(e.subject, month: e.month)
        return DigestRenderer(language: language, context: DigestContext(pipeline: pipeline, optOut: Fixtures.optOut)).subjectHTML(digest)
    }

    /// The rows of the choices table: each row's visible text and whether it holds an opt-out form for its purpose.
    static func choiceRows(_ html: String) -> [(text: String, optOutPurpose: String?)] {
        guard let start = html.range(of: "<section id=\"choices\""),
              let end = html.range(of: "</section>", range: start.upperBound..<html.endIndex) else { return [] }
        let section = html[start.upperBound..<end.lowerBound]
        guard let body = section.range(of: "<tbody>") else { return [] }
        return section[body.upperBound...].components(separatedBy: "<tr>").dropFirst().map { row in
            let purpose = row.firstMatch(of: /name="purpose" value="([^"]*)"/).map { String($0.output.1) }
            return (visibleText(row).split(whereSeparator: \.isWhitespace).joined(separator: " "), purpose)
        }
    }

    @Test("coverage: carried across months, withdrawn within the grace, never asked")
    func theCasesCoverWhatTheIssueAsks() {
        #expect(Self.expectations.count >= 8)
        #expect(Self.expectations.contains { e in e.choices.values.contains { $0.since.monthKey < e.month } }, "a choice carried into a later month")
        #expect(Self.expectations.contains { $0.case_.contains("withdrawn-grace") })
        #expect(Self.expectations.contains { $0.choices.isEmpty }, "a customer never asked anything")
    }

    @Test("the choice that stands, since when, and a button only where something is allowed",
          arguments: expectations, Language.allCases)
    func choices(_ e: Expected, _ language: Language) throws {
        let c = language.catalog
        let rows = Self.choiceRows(try Self.page(e, language))
        #expect(rows.count == Self.pipeline.lists["consent_purposes"]!.count, "one row per consent purpose: \(rows)")
        for purpose in Self.pipeline.lists["consent_purposes"]! {
            let name = c.useName(purpose)
            let matching = rows.filter { $0.text.hasPrefix(name + " ") }
            #expect(matching.count == 1, "\(e) \(language): the row of \(purpose) in \(rows.map(\.text))")
            guard let row = matching.first else { continue }
            switch e.choices[purpose] {
            case let (status, since)?:
                let word = c.text(status == "granted" ? .choiceGranted : .choiceWithdrawn)
                #expect(row.text.contains(word + " " + c.date(since)), "\(e) \(language): \(row.text)")
                #expect(row.optOutPurpose == (status == "granted" ? purpose : nil), "\(e) \(language): \(purpose)'s button")
                if status == "granted" {
                    #expect(row.text.contains(c.text(.optOutButton, ["purpose": name])), "\(e) \(language): the button's words")
                }
            case nil:
                #expect(row.text.contains(c.text(.choiceNeverAsked)), "\(e) \(language): \(row.text)")
                #expect(row.optOutPurpose == nil, "\(e) \(language): no button for a purpose never asked")
            }
        }
    }

    @Test("laid out in Chromium: nothing wider than the screen, the first button where there is one",
          arguments: expectations, [0, 1])
    func layout(_ e: Expected, _ size: Int) throws {
        let (name, width, height) = Chromium.sizes[size]
        for language in size == 0 ? Language.allCases : [.en] {
            let m = try Chromium.measure(try Self.page(e, language), width: width, height: height)
            #expect(m.scrollWidth <= width, "\(e) \(language) \(name): \(m.scrollWidth)px wide")
            let allowed = e.choices.values.contains { $0.status == "granted" }
            #expect((m.buttonTop >= 0) == allowed, "\(e) \(language) \(name): button at \(m.buttonTop)")
            if allowed { #expect(m.buttonTop <= 1.5 * Double(height), "\(e) \(language) \(name): the opt-out is within 1.5 screens") }
        }
    }

    /// A customer in March whose choices were made in January and February; kept in docs/ with
    /// `CONSENTINEL_UPDATE_SCREENSHOTS=1`.
    @Test("screenshot of choices carried across months", arguments: [0, 1])
    func screenshot(_ size: Int) throws {
        let (name, width, height) = Chromium.sizes[size]
        let march = try #require(Self.expectations.first { $0.case_.hasPrefix("34-") && $0.month == "2026-03" })
        let data = try Chromium.screenshot(try Self.page(march, .en), width: width, height: height, docsName: "choices-\(name).png")
        #expect(PNGImage.problems(ofPage: data, width: width, height: height) == [])
    }
}
