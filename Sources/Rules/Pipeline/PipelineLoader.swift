import Events
import Foundation
import Yams

/// Reads a pipeline folder: `pipeline.yaml`, `rules/*.yaml`, `lists/*.yaml`, `texts/*.yaml`. Collects every fault it
/// finds.
public struct PipelineLoader: Sendable {
    public var builtinTaxonomy: @Sendable () throws(TaxonomyError) -> Taxonomy

    public init(builtinTaxonomy: @escaping @Sendable () throws(TaxonomyError) -> Taxonomy = { () throws(TaxonomyError) in try Taxonomy.builtin() }) {
        self.builtinTaxonomy = builtinTaxonomy
    }

    /// Loads and compiles a pipeline; throws `RuleErrors` with every fault, in file order.
    public func load(directory: String) throws(RuleErrors) -> Pipeline {
        var faults = Faults()
        let dir = URL(fileURLWithPath: directory)
        let pipelineFile = dir.appendingPathComponent("pipeline.yaml").path
        var settings: [String: PipelineValue] = [:]
        var name = dir.lastPathComponent
        var lateness = Duration.minutes(5)
        var dedupWindow = Duration.days(7)
        var taxonomy: Taxonomy?

        if let doc = faults.readYAML(pipelineFile, required: true) {
            if case .map(let pairs, _) = PipelineValue(node: doc.node, in: doc) {
                for (k, v) in pairs { settings[k] = v }
            } else if doc.node.mapping == nil {
                faults.add(.schema, "pipeline.yaml must be a mapping", doc.location(doc.node))
            }
            if let v = settings["name"]?.string { name = v }
            if let v = settings["lateness"] { lateness = faults.duration(v, "lateness") ?? lateness }
            if let v = settings["dedup_window"] { dedupWindow = faults.duration(v, "dedup_window") ?? dedupWindow }
            if let v = settings["language"] { faults.checkLanguage(v) }
            taxonomy = loadTaxonomy(settings["taxonomy"], directory: dir, faults: &faults)
        } else if !faults.errors.isEmpty {
            taxonomy = nil
        }
        let lists = loadLists(dir.appendingPathComponent("lists"), faults: &faults)
        guard let taxonomy else { throw RuleErrors(faults.sorted) }

        let compiler = RuleCompiler(environment: ExpressionEnvironment(taxonomy: taxonomy, lists: lists))
        var rules: [Rule] = []
        var seen: [String: SourceLocation] = [:]
        for file in yamlFiles(in: dir.appendingPathComponent("rules")) {
            guard let doc = faults.readYAML(file, required: true) else { continue }
            for rule in compiler.compileRules(doc, faults: &faults) {
                if let first = seen[rule.id] {
                    faults.add(.duplicate, "rule id '\(rule.id)' is already used at \(first)", rule.location, doc)
                    continue
                }
                seen[rule.id] = rule.location
                rules.append(rule)
            }
        }
        // Rule ids are checked only against rules that all compiled.
        let ruleIDs = faults.errors.isEmpty ? Set(seen.keys) : nil
        let texts = loadTexts(dir.appendingPathComponent("texts"), ruleIDs: ruleIDs, faults: &faults)
        if !faults.errors.isEmpty { throw RuleErrors(faults.sorted) }
        return Pipeline(
            name: name, directory: directory, taxonomy: taxonomy, lateness: lateness, dedupWindow: dedupWindow,
            lists: lists, rules: rules, settings: settings, texts: texts)
    }

    /// Compiles one rules file's text against a taxonomy and lists (golden cases, `rules test`).
    public func compileRules(yaml: String, file: String, environment: ExpressionEnvironment) throws(RuleErrors) -> [Rule] {
        var faults = Faults()
        guard let doc = faults.parseYAML(yaml, file: file) else { throw RuleErrors(faults.sorted) }
        let rules = RuleCompiler(environment: environment).compileRules(doc, faults: &faults)
        if !faults.errors.isEmpty { throw RuleErrors(faults.sorted) }
        return rules
    }

    private func loadTaxonomy(_ value: PipelineValue?, directory: URL, faults: inout Faults) -> Taxonomy? {
        func base(_ spec: String?, _ location: SourceLocation?) -> Taxonomy? {
            do {
                guard let spec, !spec.lowercased().hasPrefix("fideslang"), spec != "default" else {
                    return try builtinTaxonomy()
                }
                let url = spec.hasPrefix("/") ? URL(fileURLWithPath: spec) : directory.appendingPathComponent(spec)
                return try Taxonomy.load(directory: url)
            } catch {
                faults.add(.io, error.message, location)
                return nil
            }
        }
        guard let value else { return base(nil, nil) }
        if let s = value.string { return base(s, value.location) }
        guard case .map = value else {
            faults.add(.schema, "taxonomy must be a name, a folder, or a mapping with base, categories and uses", value.location)
            return nil
        }
        guard let loaded = base(value["base"]?.string, value["base"]?.location) else { return nil }
        func entries(_ key: String) -> [Taxonomy.Entry] {
            value[key]?.items.compactMap { item -> Taxonomy.Entry? in
                if let k = item.string { return Taxonomy.Entry(key: k, name: k) }
                guard let k = item["key"]?.string else {
                    faults.add(.schema, "each taxonomy extension needs a key", item.location)
                    return nil
                }
                return Taxonomy.Entry(key: k, name: item["name"]?.string ?? k, description: item["description"]?.string ?? "")
            } ?? []
        }
        do {
            return try loaded.extended(categories: entries("categories"), uses: entries("uses"))
        } catch {
            faults.add(.schema, error.message, value.location)
            return nil
        }
    }

    private func loadLists(_ dir: URL, faults: inout Faults) -> [String: [String]] {
        var lists: [String: [String]] = [:]
        for file in yamlFiles(in: dir) {
            guard let doc = faults.readYAML(file, required: false) else { continue }
            let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            func strings(_ node: Node, _ name: String) -> [String]? {
                guard let seq = node.sequence else {
                    faults.add(.schema, "list '\(name)' must be a YAML list of strings", doc.location(node), doc)
                    return nil
                }
                return seq.compactMap { item in
                    guard let s = item.scalar?.string else {
                        faults.add(.schema, "list '\(name)' may hold only strings", doc.location(item), doc)
                        return nil
                    }
                    return s
                }
            }
            if doc.node.sequence != nil {
                if let s = strings(doc.node, stem) { lists[stem] = s }
            } else if let map = doc.node.mapping {
                for (k, v) in map {
                    guard let name = k.scalar?.string else { continue }
                    if lists[name] != nil { faults.add(.duplicate, "list '\(name)' is defined twice", doc.location(k), doc) }
                    if let s = strings(v, name) { lists[name] = s }
                }
            } else {
                faults.add(.schema, "a lists file holds a list, or a mapping from list names to lists", doc.location(doc.node), doc)
            }
        }
        return lists
    }

    func yamlFiles(in dir: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { dir.appendingPathComponent($0).path }
    }
}

/// A parsed YAML file with its text, for locations and caret lines.
struct YAMLDocument {
    var file: String
    var text: String
    var lines: [Substring]
    var node: Node

    func location(_ node: Node) -> SourceLocation {
        clamped(SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1))
    }

    /// libyaml puts the end of a text without a final line break on a line of its own, after the last: such a place
    /// is the end of the last line.
    func clamped(_ location: SourceLocation) -> SourceLocation {
        guard location.line > lines.count, let last = lines.last else { return location }
        return SourceLocation(file: location.file, line: lines.count, column: last.unicodeScalars.count + 1)
    }

    func line(_ n: Int) -> String? {
        n >= 1 && n <= lines.count ? String(lines[n - 1]) : nil
    }

    /// The lines of `text` as libyaml counts them: a line ends at CR LF, CR, LF, NEL, LS or PS.
    static func lines(of text: String) -> [Substring] {
        var lines: [Substring] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var i = start
        while i < scalars.endIndex {
            let scalar = scalars[i]
            guard breaks.contains(scalar) else {
                i = scalars.index(after: i)
                continue
            }
            lines.append(Substring(scalars[start..<i]))
            i = scalars.index(after: i)
            if scalar == "\r", i < scalars.endIndex, scalars[i] == "\n" { i = scalars.index(after: i) }
            start = i
        }
        lines.append(Substring(scalars[start...]))
        return lines
    }

    /// The line and column (in Unicode scalars, from 1) of the byte at `offset` of `text`'s UTF-8.
    static func position(ofByte offset: Int, in text: String) -> (line: Int, column: Int) {
        var (line, column, byte) = (1, 1, 0)
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            if byte >= offset { break }
            byte += UTF8.width(scalar)
            if scalar == "\n", previous == "\r" {
            } else if breaks.contains(scalar) {
                (line, column) = (line + 1, 1)
            } else {
                column += 1
            }
            previous = scalar
        }
        return (line, column)
    }

    private static let breaks: Set<Unicode.Scalar> = ["\r", "\n", "\u{85}", "\u{2028}", "\u{2029}"]
}

/// The faults found so far, in any file.
struct Faults {
    var errors: [RuleError] = []

    var sorted: [RuleError] {
        errors.enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (x?, y?) where x != y: return x < y
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }

    mutating func add(_ code: RuleError.Code, _ message: String, _ location: SourceLocation?, _ doc: YAMLDocument? = nil) {
        errors.append(RuleError(code, message, at: location, sourceLine: location.flatMap { doc?.line($0.line) }))
    }

    mutating func readYAML(_ path: String, required: Bool) -> YAMLDocument? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if required { add(.io, "cannot read \(path)", nil) }
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            add(.io, "\(path) is not UTF-8 text", SourceLocation(file: path, line: 1, column: 1))
            return nil
        }
        return parseYAML(text, file: path)
    }

    mutating func parseYAML(_ text: String, file: String) -> YAMLDocument? {
        let lines = YAMLDocument.lines(of: text)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return YAMLDocument(file: file, text: text, lines: lines, node: Node.sequence(Node.Sequence([])))
            }
            return YAMLDocument(file: file, text: text, lines: lines, node: node)
        } catch let error as YamlError {
            var location = SourceLocation(file: file, line: 1, column: 1)
            var message = "\(error)"
            switch error {
            case let .reader(problem, offset, _, _):
                let (line, column) = YAMLDocument.position(ofByte: offset ?? 0, in: text)
                location = SourceLocation(file: file, line: line, column: column)
                message = "YAML: \(problem)"
            case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
                location = SourceLocation(file: file, line: mark.line, column: mark.column)
                message = "YAML: \(problem)"
            case let .duplicatedKeysInMapping(duplicates, context):
                let key = duplicates.sorted().first ?? ""
                message = "YAML: key '\(key)' is given twice in one mapping"
                location = SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
                let occurrences = lines.indices.filter { i in
                    i + 1 >= context.mark.line && lines[i].dropFirst(context.mark.column - 1).hasPrefix(key + ":")
                        && lines[i].prefix(context.mark.column - 1).allSatisfy { $0 == " " || $0 == "-" }
                }
                if occurrences.count > 1 { location = SourceLocation(file: file, line: occurrences[1] + 1, column: context.mark.column) }
            default: break
            }
            let document = YAMLDocument(file: file, text: text, lines: lines, node: Node(""))
            add(.syntax, message, document.clamped(location), document)
            return nil
        } catch {
            add(.syntax, "YAML: \(error)", SourceLocation(file: file, line: 1, column: 1))
            return nil
        }
    }

    mutating func duration(_ value: PipelineValue, _ name: String) -> Duration? {
        guard let s = value.string, let d = Duration(parsing: s) else {
            add(.schema, "\(name) must be a duration such as 90s, 10m, 48h or 30d", value.location)
            return nil
        }
        return d
    }
}

extension PipelineValue {
    init(node: Node, in doc: YAMLDocument) {
        let loc = doc.location(node)
        switch node {
        case .scalar(let s): self = .scalar(s.string, loc)
        case .sequence(let seq): self = .list(seq.map { PipelineValue(node: $0, in: doc) }, loc)
        case .mapping(let map):
            self = .map(map.map { ($0.key.scalar?.string ?? "", PipelineValue(node: $0.value, in: doc)) }, loc)
        case .alias: self = .scalar("", loc)
        }
    }
}
