import Events
import Foundation
import Yams

/// Holds a `pipeline.yaml` to its schema: unknown keys (with the nearest known one), values of the wrong shape or
/// kind, unknown variants (a channel `type`), rule names that are not rules, and `${VAR}`s the environment lacks.
/// Every fault carries `file:line:column` and the line for a caret.
public struct SettingsChecker {
    public var schema: SettingsSchema
    public var environment: [String: String]
    /// The ids of the pipeline's rules, for `.ruleID` values (nil: rules that did not load, names not checked).
    public var ruleIDs: Set<String>?
    /// Whether an unset `${VAR}` (without a `:-default`) is an error rather than a warning.
    public var requireEnvironment: Bool

    public init(
        schema: SettingsSchema, environment: [String: String], ruleIDs: Set<String>?, requireEnvironment: Bool = false
    ) {
        self.schema = schema
        self.environment = environment
        self.ruleIDs = ruleIDs
        self.requireEnvironment = requireEnvironment
    }

    public struct Findings: Sendable {
        public var errors: [RuleError] = []
        public var warnings: [RuleError] = []
    }

    /// Checks `DIR/pipeline.yaml`; a file that cannot be read or parsed is one error.
    public func check(directory: String) -> Findings {
        let file = (directory as NSString).appendingPathComponent("pipeline.yaml")
        var faults = Faults()
        guard let doc = faults.readYAML(file, required: true) else { return Findings(errors: faults.errors) }
        return check(doc)
    }

    /// Checks the text of a `pipeline.yaml` (named `file` in the findings).
    public func check(yaml: String, file: String) -> Findings {
        var faults = Faults()
        guard let doc = faults.parseYAML(yaml, file: file) else { return Findings(errors: faults.errors) }
        return check(doc)
    }

    func check(_ doc: YAMLDocument) -> Findings {
        var walk = Walk(checker: self, doc: doc)
        walk.check(doc.node, schema, path: "")
        walk.findings.errors.sort { ($0.location ?? doc.start) < ($1.location ?? doc.start) }
        walk.findings.warnings.sort { ($0.location ?? doc.start) < ($1.location ?? doc.start) }
        return walk.findings
    }

    private struct Walk {
        let checker: SettingsChecker
        let doc: YAMLDocument
        var findings = Findings()

        mutating func error(_ message: String, _ node: Node) {
            findings.errors.append(fault(message, doc.location(node)))
        }

        func fault(_ message: String, _ location: SourceLocation) -> RuleError {
            RuleError(.schema, message, at: location, sourceLine: doc.line(location.line))
        }

        mutating func check(_ node: Node, _ schema: SettingsSchema, path: String) {
            switch schema {
            case .text(let kind):
                guard let scalar = node.scalar else { return error("\(name(path)) must be text, not \(shape(node))", node) }
                text(scalar.string, kind, node, path: path)
            case .list(let item, let commaText):
                if let seq = node.sequence {
                    for (i, element) in seq.enumerated() { check(element, item, path: path + "[\(i)]") }
                } else if commaText, let scalar = node.scalar, case .text(let kind) = item {
                    guard !scalar.string.contains("${") else { return environment(scalar.string, node) }
                    for part in scalar.string.split(separator: ",") {
                        text(part.trimmingCharacters(in: .whitespaces), kind, node, path: path)
                    }
                } else {
                    error("\(name(path)) must be a list, not \(shape(node))", node)
                }
            case .map(let fields):
                fieldsOf(node, fields, path: path, others: [])
            case .dictionary(let value):
                guard let map = node.mapping else { return error("\(name(path)) must be a mapping, not \(shape(node))", node) }
                for (key, item) in map { check(item, value, path: join(path, key.scalar?.string ?? "?")) }
            case .tagged(let tagKey, let common, let variants):
                guard let map = node.mapping else { return error("\(name(path)) must be a mapping, not \(shape(node))", node) }
                let known = variants.keys.sorted()
                guard let tagNode = map[Node(tagKey)], let tag = tagNode.scalar?.string else {
                    error("\(name(path)) needs \(tagKey): one of \(known.joined(separator: ", "))", node)
                    return fieldsOf(node, common, path: path, others: variants.values.flatMap { $0 })
                }
                guard let fields = variants[tag] else {
                    let hint = Suggestion.hint(for: tag, among: known)
                    error("unknown \(tagKey) '\(tag)' at \(name(path)) (\(known.joined(separator: ", ")))\(hint)", tagNode)
                    return fieldsOf(node, common, path: path, others: variants.values.flatMap { $0 })
                }
                fieldsOf(node, common + fields, path: path, others: [])
            case .either(let first, let second):
                check(node, first.accepts(node) ? first : second, path: path)
            }
        }

        /// A mapping's keys against `fields`; `others` are keys that are not faults but are not checked either (the
        /// fields of every variant when the variant is unknown).
        mutating func fieldsOf(_ node: Node, _ fields: [SettingsField], path: String, others: [SettingsField]) {
            guard let map = node.mapping else { return error("\(name(path)) must be a mapping, not \(shape(node))", node) }
            var seen: Set<String> = []
            for (keyNode, value) in map {
                let key = keyNode.scalar?.string ?? ""
                seen.insert(key)
                guard let field = fields.first(where: { $0.name == key }) else {
                    if others.contains(where: { $0.name == key }) { continue }
                    let names = fields.map(\.name)
                    let suggested = Suggestion.hint(for: key, among: names)
                    let hint = suggested.isEmpty ? " (known: \(names.joined(separator: ", ")))" : suggested
                    error("unknown key '\(key)' in \(name(path))\(hint)", keyNode)
                    continue
                }
                check(value, field.schema, path: join(path, key))
            }
            for field in fields where field.required && !seen.contains(field.name) {
                error("\(name(path)) needs \(field.name)", node)
            }
        }

        mutating func text(_ value: String, _ kind: SettingsSchema.TextKind, _ node: Node, path: String) {
            guard !value.contains("${") else { return environment(value, node) }
            switch kind {
            case .any:
                return
            case .duration:
                if Events.Duration(parsing: value) == nil {
                    error("\(name(path)) must be a duration such as 90s, 10m, 48h or 30d, not '\(value)'", node)
                }
            case .positiveDuration:
                if (Events.Duration(parsing: value)?.microseconds ?? 0) <= 0 {
                    error("\(name(path)) must be a duration above zero such as 90s, 10m, 48h or 30d, not '\(value)'", node)
                }
            case .port:
                if Int(value).map({ (0...65535).contains($0) }) != true {
                    error("\(name(path)) must be a port number (0–65535), not '\(value)'", node)
                }
            case .positiveInteger:
                if Int(value).map({ $0 > 0 }) != true {
                    error("\(name(path)) must be a positive whole number, not '\(value)'", node)
                }
            case .httpURL:
                if !(value.hasPrefix("https://") || value.hasPrefix("http://")) {
                    error("\(name(path)) must be an http(s) URL", node)
                }
            case .oneOf(let allowed):
                guard !allowed.contains(value) else { return }
                let hint = Suggestion.hint(for: value, among: allowed)
                error("\(name(path)) must be one of \(allowed.joined(separator: ", ")), not '\(value)'\(hint)", node)
            case .ruleID:
                guard let ids = checker.ruleIDs, !ids.contains(value) else { return }
                let hint = Suggestion.hint(for: value, among: ids.sorted())
                error("\(name(path)) names rule '\(value)', which the pipeline does not have\(hint)", node)
            }
        }

        /// Every `${NAME}` without a `:-default` must be set.
        mutating func environment(_ value: String, _ node: Node) {
            var rest = Substring(value)
            while let open = rest.range(of: "${") {
                guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                    error("unterminated ${ in '\(value)'", node)
                    return
                }
                let inner = rest[open.upperBound..<close]
                if !inner.contains(":-"), (checker.environment[String(inner)] ?? "").isEmpty {
                    let location = doc.location(node, at: "${" + inner)
                    let message = "environment variable \(inner) is not set"
                    if checker.requireEnvironment {
                        findings.errors.append(fault(message, location))
                    } else {
                        var warning = fault(message + " (`run` would refuse to start)", location)
                        warning.isWarning = true
                        findings.warnings.append(warning)
                    }
                }
                rest = rest[rest.index(after: close)...]
            }
        }

        func name(_ path: String) -> String { path.isEmpty ? "pipeline.yaml" : path }
        func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        func shape(_ node: Node) -> String {
            switch node {
            case .scalar: "text"
            case .sequence: "a list"
            case .mapping: "a mapping"
            case .alias: "an alias"
            }
        }
    }
}

extension SettingsSchema {
    /// Whether a node has this schema's shape (for `either`).
    func accepts(_ node: Node) -> Bool {
        switch self {
        case .text: node.scalar != nil
        case .list(_, let commaText): node.sequence != nil || (commaText && node.scalar != nil)
        case .map, .dictionary, .tagged: node.mapping != nil
        case .either(let a, let b): a.accepts(node) || b.accepts(node)
        }
    }
}

extension YAMLDocument {
    var start: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }

    /// Where `text` starts within `node`'s line, or the node's own place.
    func location(_ node: Node, at text: Substring) -> SourceLocation {
        let place = location(node)
        guard let line = line(place.line) else { return place }
        let chars = Array(line)
        let from = min(max(0, place.column - 1), chars.count)
        guard let range = String(chars[from...]).range(of: text) else { return place }
        let offset = String(chars[from...])[..<range.lowerBound].count
        return place.advanced(by: offset)
    }
}
