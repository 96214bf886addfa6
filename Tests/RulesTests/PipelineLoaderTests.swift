import Events
import Foundation
import Rules
import Testing

@Suite struct PipelineLoaderTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func pipeline(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-broken-\(UUID().uuidString)")
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func theDefaultPipelineLoadsWithItsNineRules() throws {
        let p = try PipelineLoader().load(directory: Self.root.appendingPathComponent("pipelines/default").path)
        #expect(p.rules.map(\.id).sorted() == [
            "bulk-access", "consent-required", "erasure-deadline", "retention-behavior", "retention-financial",
            "retention-precise-location", "role-access", "sensitive-needs-ticket", "undisclosed-recipient",
        ])
        #expect(p.lateness == .minutes(5))
        #expect(p.lists["disclosed_recipients"] == ["payment-processor", "email-provider", "analytics-partner", "ad-network"])
        #expect(p.taxonomy.categories.node("user.contact.email") != nil)
        #expect(p.taxonomy.uses.node("essential.service.operations.support") != nil)
    }

    @Test func aBrokenPipelineReportsEveryFaultWithItsPlaceAndACaret() throws {
        let dir = try pipeline([
            "pipeline.yaml": "name: broken\nlateness: soon\n",
            "lists/recipients.yaml": "known: [a, b]\n",
            "rules/a.yaml": """
            - rule: one
              kind: match
              severity: high
              when: event.type == "share" and event.recipent in list.known
            - rule: two
              kind: retention
              severity: urgent
              categories: [user.shoe_size]
              keep: 30d
            - rule: three
              kind: consent
              severity: low
              when: event.purpose under "marketing" and
              grase: 48h

            """,
            "rules/b.yaml": """
            - rule: one
              kind: match
              severity: low
              when: list.unknown == "x"
            """,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try PipelineLoader().load(directory: dir.path)
            Issue.record("a broken pipeline loaded")
        } catch {
            let text = error.description.replacingOccurrences(of: dir.path + "/", with: "")
            let expected = """
            pipeline.yaml:2:11: error: lateness must be a duration such as 90s, 10m, 48h or 30d
            rules/a.yaml:4:35: error: unknown event field 'event.recipent'; did you mean 'event.recipient'?
              when: event.type == "share" and event.recipent in list.known
                                              ^
            rules/a.yaml:7:13: error: unknown severity 'urgent'; expected low, medium, high or critical
              severity: urgent
                        ^
            rules/a.yaml:8:16: error: 'user.shoe_size' is not a data category of the taxonomy
              categories: [user.shoe_size]
                           ^
            rules/a.yaml:13:44: error: expected a value, a name or '(', found the end of the expression
              when: event.purpose under "marketing" and
                                                       ^
            rules/a.yaml:14:3: error: 'grase' is not a field of a consent rule; its fields are alert, description, enabled, grace, kind, message, rule, severity, tags, when
              grase: 48h
              ^
            rules/b.yaml:4:9: error: unknown list 'list.unknown'; did you mean 'list.known'?
              when: list.unknown == "x"
                    ^
            """
            #expect(text == expected)
            #expect(error.errors.count == 7, "\(text)")
        }
    }

    /// `language:` of pipeline.yaml chooses the language of rules' messages; the loader and the schema (`rules check`)
    /// refuse any other than en, es, de, fr.
    @Test func theLanguageOfMessages() throws {
        let rules = "- rule: r\n  kind: match\n  severity: low\n  when: event.type == \"use\"\n"
        let german = try pipeline(["pipeline.yaml": "name: p\nlanguage: de\n", "rules/r.yaml": rules])
        let english = try pipeline(["pipeline.yaml": "name: p\n", "rules/r.yaml": rules])
        let italian = try pipeline(["pipeline.yaml": "name: p\nlanguage: it\n", "rules/r.yaml": rules])
        defer { for dir in [german, english, italian] { try? FileManager.default.removeItem(at: dir) } }
        #expect(try PipelineLoader().load(directory: german.path).language == .de)
        #expect(try PipelineLoader().load(directory: english.path).language == .en)
        #expect(throws: RuleErrors.self) { try PipelineLoader().load(directory: italian.path) }
        do {
            _ = try PipelineLoader().load(directory: italian.path)
        } catch {
            #expect(error.description.replacingOccurrences(of: italian.path + "/", with: "")
                == "pipeline.yaml:2:11: error: language must be one of en, es, de, fr, not 'it'")
        }
        let schema = SettingsChecker(schema: .map(SettingsSchema.engineFields), environment: [:], ruleIDs: nil)
            .check(yaml: "name: p\nlanguage: deu\n", file: "pipeline.yaml")
        #expect(schema.errors.map(\.description) == ["""
            pipeline.yaml:2:11: error: language must be one of en, es, de, fr, not 'deu'; did you mean 'de'?
            language: deu
                      ^
            """])
    }

    /// Faults point at the line libyaml counts, whatever the line breaks (found by the pipeline fuzz target): CR LF and a
    /// lone CR end lines, a control character has its place, and a fault at the end of a text without a final line
    /// break points at the end of its last line.
    @Test(arguments: [
        ("- rule: r\r\n  kind: match\r\n  severity: low\r\n  when: event.type ==\r\n", "r.yaml:4:22: error: expected a value, a name or '(', found the end of the expression\n  when: event.type ==\n                     ^"),
        ("- rule: r\r  kind: match\r  severity: low\r  when: event.type == 3\r", "r.yaml:4:20: error: cannot compare a string with a number\n  when: event.type == 3\n                   ^"),
        ("- rule: r\n  kind: match\n  severity: low\u{7}\n", "r.yaml:3:16: error: YAML: control characters are not allowed\n  severity: low\u{7}\n               ^"),
        ("- rule: r\n  kind: [match", "r.yaml:2:15: error: YAML: did not find expected ',' or ']'\n  kind: [match\n              ^"),
    ])
    func faultsPointAtTheLineLibyamlCounts(_ yaml: String, _ expected: String) {
        do {
            _ = try PipelineLoader().compileRules(yaml: yaml, file: "r.yaml", environment: Fixtures.environment)
            Issue.record("compiled")
        } catch {
            #expect(error.errors.first?.description == expected)
        }
    }
}
