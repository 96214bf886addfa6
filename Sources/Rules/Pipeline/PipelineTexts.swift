import Foundation
import Yams

/// A pipeline's words for people in one language, from `texts/<language>.yaml` of its folder: what its staff roles
/// are called, and for each rule a short title (the organisation report) and one sentence to a customer (their page).
public struct PipelineTexts: Sendable, Equatable {
    /// The languages a texts file may be written in; the file is named after one (`en.yaml`).
    public static let languages = ["en", "es", "de", "fr"]

    public var roles: [String: String]
    public var ruleTitles: [String: String]
    public var ruleSentences: [String: String]

    public init(roles: [String: String] = [:], ruleTitles: [String: String] = [:], ruleSentences: [String: String] = [:]) {
        self.roles = roles
        self.ruleTitles = ruleTitles
        self.ruleSentences = ruleSentences
    }
}

extension PipelineLoader {
    /// The texts files of a pipeline by language code. Rule ids are checked against `ruleIDs` when given.
    func loadTexts(_ dir: URL, ruleIDs: Set<String>?, faults: inout Faults) -> [String: PipelineTexts] {
        var texts: [String: PipelineTexts] = [:]
        for file in yamlFiles(in: dir) {
            let name = URL(fileURLWithPath: file).lastPathComponent
            let language = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            let start = SourceLocation(file: file, line: 1, column: 1)
            guard PipelineTexts.languages.contains(language) else {
                let hint = Suggestion.hint(for: language, among: PipelineTexts.languages)
                let names = "en.yaml, es.yaml, de.yaml or fr.yaml"
                faults.add(.schema, "texts file '\(name)' is not named after a language: name it \(names)\(hint)", start)
                continue
            }
            guard texts[language] == nil else {
                faults.add(.duplicate, "the texts in '\(language)' are already given in another file", start)
                continue
            }
            guard let doc = faults.readYAML(file, required: true) else { continue }
            var reader = TextsReader(doc: doc, ruleIDs: ruleIDs)
            texts[language] = reader.read()
            faults.errors += reader.faults.errors
        }
        return texts
    }
}

/// Reads one texts file: `roles` (role → name) and `rules` (rule id → `title` and `sentence`).
private struct TextsReader {
    let doc: YAMLDocument
    let ruleIDs: Set<String>?
    var faults = Faults()

    mutating func read() -> PipelineTexts {
        var texts = PipelineTexts()
        if doc.node.sequence?.isEmpty == true { return texts }
        for (section, key, value) in entries(doc.node, "a texts file", "a mapping with the sections roles and rules") {
            switch section {
            case "roles":
                for (role, _, name) in entries(value, "roles", "a mapping from each role to its name") {
                    texts.roles[role] = text(name, "the name of role '\(role)'")
                }
            case "rules":
                for (rule, key, node) in entries(value, "rules", "a mapping from each rule id to its title and sentence") {
                    if let ruleIDs, !ruleIDs.contains(rule) {
                        let hint = Suggestion.hint(for: rule, among: ruleIDs.sorted())
                        fault(.schema, "texts for rule '\(rule)', which the pipeline does not have\(hint)", key)
                        continue
                    }
                    for (field, key, value) in entries(node, "rule '\(rule)'", "a mapping with title and sentence") {
                        switch field {
                        case "title": texts.ruleTitles[rule] = text(value, "the title of rule '\(rule)'")
                        case "sentence": texts.ruleSentences[rule] = text(value, "the sentence of rule '\(rule)'")
                        default:
                            let hint = Suggestion.hint(for: field, among: ["sentence", "title"])
                            fault(.schema, "'\(field)' is not a text of a rule; its texts are sentence and title\(hint)", key)
                        }
                    }
                }
            default:
                let hint = Suggestion.hint(for: section, among: ["roles", "rules"])
                fault(.schema, "'\(section)' is not a section of a texts file; its sections are roles and rules\(hint)", key)
            }
        }
        return texts
    }

    /// The pairs of a mapping, with each key's node for locations; a fault for anything but a mapping with text keys.
    private mutating func entries(_ node: Node, _ what: String, _ shape: String) -> [(String, Node, Node)] {
        guard let map = node.mapping else {
            fault(.schema, "\(what) must be \(shape)", node)
            return []
        }
        return map.compactMap { key, value in
            guard let name = key.scalar?.string else {
                fault(.schema, "\(what) must be \(shape)", key)
                return nil
            }
            return (name, key, value)
        }
    }

    /// A string; a list, a mapping, nothing, or a number or yes/no without quotes is a fault.
    private mutating func text(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar, node.null == nil else {
            fault(.type, "\(what) must be text", node)
            return nil
        }
        guard node.tag == Tag(.str) else {
            fault(.type, "\(what) must be text: put \(scalar.string) in quotes", node)
            return nil
        }
        return scalar.string
    }

    private mutating func fault(_ code: RuleError.Code, _ message: String, _ node: Node) {
        faults.add(code, message, doc.location(node), doc)
    }
}
