import Foundation
import Rules
import Testing

/// A pipeline's words for people: `texts/<language>.yaml`.
@Suite struct PipelineTextsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let rules = """
        - rule: consent-required
          kind: consent
          severity: high
          when: event.type == "use"
        - rule: role-access
          kind: access
          severity: high
          when: event.type == "access"
          roles:
            support:
              purposes: [essential.service.operations.support]
              categories: [user.name]

        """

    /// A pipeline folder with the two rules above and `files` besides.
    func pipeline(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-texts-\(UUID().uuidString)")
        let all = files.merging(["pipeline.yaml": "name: texts\n", "rules/rules.yaml": Self.rules], uniquingKeysWith: { a, _ in a })
        for (path, text) in all {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    /// What loading the folder reports, paths relative to it.
    func faults(_ files: [String: String]) throws -> String {
        let dir = try pipeline(files)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try PipelineLoader().load(directory: dir.path)
            return ""
        } catch {
            return error.description.replacingOccurrences(of: dir.path + "/", with: "")
        }
    }

    @Test func theDefaultPipelineWordsEveryRuleAndEveryGrantedRoleInEveryLanguage() throws {
        let p = try PipelineLoader().load(directory: Self.root.appendingPathComponent("pipelines/default").path)
        #expect(Set(p.texts.keys) == Set(PipelineTexts.languages))
        let roles = Set(p.rules.flatMap { rule -> [String] in
            if case .access(_, let grants) = rule.spec { return grants.keys.map(\.description) }
            return []
        })
        #expect(roles == ["support", "billing", "marketing", "engineer", "security", "dpo"])
        for (language, texts) in p.texts {
            #expect(Set(texts.roles.keys) == roles, "\(language)")
            #expect(Set(texts.ruleTitles.keys) == Set(p.rules.map(\.id)), "\(language)")
            #expect(Set(texts.ruleSentences.keys) == Set(p.rules.map(\.id)), "\(language)")
        }
        #expect(p.texts["en"]?.roles["dpo"] == "Data protection officer")
        #expect(p.texts["de"]?.ruleTitles["consent-required"] == "Nutzung ohne Einwilligung")
        #expect(p.texts["fr"]?.ruleSentences["erasure-deadline"]
            == "Nous n’avons pas supprimé vos données dans les 30 jours suivant votre demande.")
    }

    @Test func textsAreOptionalAndMayBePartial() throws {
        let dir = try pipeline(["texts/es.yaml": "rules:\n  role-access:\n    sentence: \"Alguien: miró\"\n", "texts/en.yaml": ""])
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try PipelineLoader().load(directory: dir.path)
        #expect(p.texts == ["es": PipelineTexts(ruleSentences: ["role-access": "Alguien: miró"]), "en": PipelineTexts()])
        let bare = try pipeline([:])
        defer { try? FileManager.default.removeItem(at: bare) }
        #expect(try PipelineLoader().load(directory: bare.path).texts.isEmpty)
    }

    @Test func aFileNotNamedAfterALanguage() throws {
        #expect(try faults(["texts/english.yaml": "roles:\n  support: Support\n", "texts/it.yaml": "{}\n"]) == """
            texts/english.yaml:1:1: error: texts file 'english.yaml' is not named after a language: name it en.yaml, es.yaml, de.yaml or fr.yaml
            texts/it.yaml:1:1: error: texts file 'it.yaml' is not named after a language: name it en.yaml, es.yaml, de.yaml or fr.yaml
            """)
    }

    @Test func aRuleThePipelineDoesNotHave() throws {
        #expect(try faults(["texts/de.yaml": "rules:\n  role-acess:\n    title: Zugriff\n"]) == """
            texts/de.yaml:2:3: error: texts for rule 'role-acess', which the pipeline does not have; did you mean 'role-access'?
              role-acess:
              ^
            """)
    }

    @Test func valuesThatAreNotText() throws {
        let text = """
            roles:
              support: [Customer, support]
              billing:
            rules:
              consent-required:
                title: 42
                sentence: {text: no}
              role-access: Access outside the job

            """
        #expect(try faults(["texts/en.yaml": text]) == """
            texts/en.yaml:2:12: error: the name of role 'support' must be text
              support: [Customer, support]
                       ^
            texts/en.yaml:3:11: error: the name of role 'billing' must be text
              billing:
                      ^
            texts/en.yaml:6:12: error: the title of rule 'consent-required' must be text: put 42 in quotes
                title: 42
                       ^
            texts/en.yaml:7:15: error: the sentence of rule 'consent-required' must be text
                sentence: {text: no}
                          ^
            texts/en.yaml:8:16: error: rule 'role-access' must be a mapping with title and sentence
              role-access: Access outside the job
                           ^
            """)
    }

    @Test func aMalformedFileAndUnknownKeys() throws {
        #expect(try faults(["texts/fr.yaml": "roles:\n  support: \"Service client\n"]).hasPrefix("texts/fr.yaml:3:1: error: YAML: "))
        #expect(try faults(["texts/fr.yaml": "- support\n"]) == """
            texts/fr.yaml:1:1: error: a texts file must be a mapping with the sections roles and rules
            - support
            ^
            """)
        #expect(try faults(["texts/fr.yaml": "role:\n  support: Service client\nrules:\n  role-access:\n    titel: Accès\n"]) == """
            texts/fr.yaml:1:1: error: 'role' is not a section of a texts file; its sections are roles and rules; did you mean 'roles'?
            role:
            ^
            texts/fr.yaml:5:5: error: 'titel' is not a text of a rule; its texts are sentence and title; did you mean 'title'?
                titel: Accès
                ^
            """)
    }

    @Test func noUnknownRuleIsReportedBesideARuleThatDoesNotCompile() throws {
        let dir = try pipeline(["rules/rules.yaml": "- rule: one\n  kind: match\n  severity: high\n  when: event.nope == 1\n",
                                "texts/en.yaml": "rules:\n  one:\n    title: One\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: RuleErrors.self) { try PipelineLoader().load(directory: dir.path) }
        do {
            _ = try PipelineLoader().load(directory: dir.path)
        } catch {
            #expect(error.errors.count == 1 && error.errors[0].location?.file.hasSuffix("rules/rules.yaml") == true, "\(error)")
        }
    }
}
