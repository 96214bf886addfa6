import Events
import Yams

/// Turns the YAML of a rules file into compiled `Rule`s, reporting every fault with its location.
struct RuleCompiler {
    var environment: ExpressionEnvironment

    static let commonFields: Set<String> = ["rule", "kind", "severity", "description", "tags", "enabled", "alert", "message"]
    static let kindFields: [RuleKind: Set<String>] = [
        .match: ["when", "reason"],
        .consent: ["when", "grace"],
        .retention: ["categories", "keep", "from"],
        .deadline: ["start", "satisfied_by", "within", "key"],
        .threshold: ["when", "group_by", "distinct", "window", "limit"],
        .access: ["when", "roles"],
    ]

    func compileRules(_ doc: YAMLDocument, faults: inout Faults) -> [Rule] {
        guard let seq = doc.node.sequence else {
            faults.add(.schema, "a rules file is a YAML list of rules", doc.location(doc.node), doc)
            return []
        }
        return seq.compactMap { compileRule($0, doc, &faults) }
    }

    private func compileRule(_ node: Node, _ doc: YAMLDocument, _ faults: inout Faults) -> Rule? {
        guard let map = node.mapping else {
            faults.add(.schema, "each rule is a mapping with rule, kind and severity", doc.location(node), doc)
            return nil
        }
        var fields = RuleFields(map: map, doc: doc)
        let before = faults.errors.count
        let id = fields.string("rule", required: true, &faults)
        let kindNode = fields.node("kind")
        let kindText = fields.string("kind", required: true, &faults)
        let kind = kindText.flatMap { RuleKind(rawValue: $0) }
        if kindText != nil, kind == nil, let kindNode {
            faults.add(.schema, "unknown rule kind '\(kindText!)'; expected one of \(RuleKind.allCases.map(\.rawValue).joined(separator: ", "))",
                       doc.location(kindNode), doc)
        }
        let severityText = fields.string("severity", required: true, &faults)
        let severity = severityText.flatMap { Severity(name: $0) }
        if severityText != nil, severity == nil, let n = fields.node("severity") {
            faults.add(.schema, "unknown severity '\(severityText!)'; expected low, medium, high or critical", doc.location(n), doc)
        }
        let description = fields.string("description", required: false, &faults)
        let tags = fields.strings("tags", &faults) ?? []
        let alert = fields.strings("alert", &faults) ?? []
        let enabled = fields.bool("enabled", &faults) ?? true
        if let kind {
            let allowed = Self.commonFields.union(Self.kindFields[kind]!)
            for (key, keyNode) in fields.keys where !allowed.contains(key) {
                faults.add(.schema, "'\(key)' is not a field of a \(kind) rule; its fields are \(allowed.sorted().joined(separator: ", "))",
                           doc.location(keyNode), doc)
            }
        }
        guard let kind, let spec = compileSpec(kind, &fields, &faults) else { return nil }
        let message = self.message(fields, spec: spec, &faults)
        guard let id, let severity, faults.errors.count == before else { return nil }
        return Rule(id: id, kind: kind, severity: severity, description: description, tags: tags, enabled: enabled,
                    alert: alert, spec: spec, message: message, location: doc.location(node))
    }

    private func compileSpec(_ kind: RuleKind, _ f: inout RuleFields, _ faults: inout Faults) -> RuleSpec? {
        switch kind {
        case .match:
            let when = expression("when", &f, &faults)
            let reason = f.string("reason", required: false, &faults) ?? "matched"
            return when.map { .match(when: $0, reason: reason) }
        case .consent:
            let when = expression("when", &f, &faults)
            let grace = f.duration("grace", required: false, &faults) ?? .zero
            return when.map { .consent(when: $0, grace: grace) }
        case .retention:
            let categories = f.keys("categories", tree: environment.taxonomy.categories, treeName: "data category", &faults)
            let keep = f.duration("keep", required: true, &faults)
            let fromText = f.string("from", required: false, &faults) ?? "collect"
            let from = RetentionStart(rawValue: fromText)
            if from == nil, let n = f.node("from") {
                faults.add(.schema, "from must be collect or relationship_end", f.doc.location(n), f.doc)
            }
            guard let categories, let keep, let from else { return nil }
            return .retention(categories: categories, keep: keep, from: from)
        case .deadline:
            let start = expression("start", &f, &faults)
            let satisfied = expression("satisfied_by", &f, &faults)
            let within = f.duration("within", required: true, &faults)
            let key = f.field("key", &faults) ?? .subject
            guard let start, let satisfied, let within else { return nil }
            return .deadline(start: start, satisfiedBy: satisfied, within: within, key: key)
        case .threshold:
            let when = expression("when", &f, &faults)
            let groupBy = f.fields("group_by", &faults) ?? []
            let distinct = f.field("distinct", &faults)
            let window = f.duration("window", required: true, &faults)
            let limit = f.int("limit", &faults)
            if let window, window.microseconds <= 0, let n = f.node("window") {
                faults.add(.schema, "window must be longer than zero", f.doc.location(n), f.doc)
                return nil
            }
            guard let when, let window, let limit else { return nil }
            return .threshold(when: when, groupBy: groupBy, distinct: distinct, window: window, limit: limit)
        case .access:
            let when = expression("when", &f, &faults)
            let roles = self.roles(&f, &faults)
            guard let when, let roles else { return nil }
            return .access(when: when, roles: roles)
        }
    }

    private func roles(_ f: inout RuleFields, _ faults: inout Faults) -> [Symbol: RoleGrant]? {
        guard let node = f.node("roles") else {
            faults.add(.schema, "an access rule needs roles", f.ruleLocation, f.doc)
            return nil
        }
        guard let map = node.mapping else {
            faults.add(.schema, "roles maps each role to its purposes and categories", f.doc.location(node), f.doc)
            return nil
        }
        var out: [Symbol: RoleGrant] = [:]
        var ok = true
        for (k, v) in map {
            guard let role = k.scalar?.string, let grantMap = v.mapping else {
                faults.add(.schema, "each role maps to purposes and categories", f.doc.location(v), f.doc)
                ok = false
                continue
            }
            var grant = RuleFields(map: grantMap, doc: f.doc)
            for (key, keyNode) in grant.keys where key != "purposes" && key != "categories" {
                faults.add(.schema, "a role has only purposes and categories, not '\(key)'", f.doc.location(keyNode), f.doc)
                ok = false
            }
            let purposes = grant.keys("purposes", tree: environment.taxonomy.uses, treeName: "data use", &faults, required: false) ?? []
            let categories = grant.keys("categories", tree: environment.taxonomy.categories, treeName: "data category", &faults, required: false) ?? []
            out[Symbol(role)] = RoleGrant(purposes: purposes, categories: categories)
        }
        return ok ? out : nil
    }

    private func expression(_ key: String, _ f: inout RuleFields, _ faults: inout Faults) -> CompiledExpression? {
        guard let node = f.node(key) else {
            faults.add(.schema, "a rule of this kind needs '\(key)'", f.ruleLocation, f.doc)
            return nil
        }
        guard let scalar = node.scalar else {
            faults.add(.schema, "'\(key)' must be an expression (text)", f.doc.location(node), f.doc)
            return nil
        }
        let doc = f.doc
        let locator = ExpressionLocator(doc: doc, scalar: scalar, start: doc.location(node))
        switch ExpressionCompiler.compile(scalar.string, environment: environment, locate: locator.locate) {
        case .success(let compiled): return compiled
        case .failure(let errors):
            faults.errors += errors.errors
            return nil
        }
    }
}

/// Maps positions inside an expression back to the YAML file, whatever the scalar's style.
struct ExpressionLocator {
    var doc: YAMLDocument
    var start: SourceLocation
    /// For each line of the expression, the file position (line, column) of each character.
    private var table: [[(Int, Int)]] = []

    init(doc: YAMLDocument, scalar: Node.Scalar, start: SourceLocation) {
        self.doc = doc
        self.start = start
        let exprLines = scalar.string.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var fileLine = start.line
        var fileCol = start.column
        switch scalar.style {
        case .literal, .folded:
            fileLine += 1
            fileCol = 1
        case .singleQuoted, .doubleQuoted:
            fileCol += 1
        default: break
        }
        // Files are walked by Unicode scalar, as libyaml counts columns; an expression's characters are found by
        // their first scalar (a combining mark can join the indentation before it into one character of the file).
        let fileLines = doc.lines.map { Array($0.unicodeScalars) }
        func fileScalar() -> Unicode.Scalar? {
            guard fileLine >= 1, fileLine <= fileLines.count else { return nil }
            let line = fileLines[fileLine - 1]
            return fileCol - 1 < line.count ? line[fileCol - 1] : "\n"
        }
        for exprLine in exprLines {
            var row: [(Int, Int)] = []
            for ch in exprLine {
                if !ch.isWhitespace, let first = ch.unicodeScalars.first {
                    let before = (fileLine, fileCol)
                    while let c = fileScalar(), c != first {
                        if c == "\n" { fileLine += 1; fileCol = 1 } else { fileCol += 1 }
                    }
                    // Not in the file as written (an escape in a quoted scalar): stay where the last one was found.
                    if fileScalar() == nil { (fileLine, fileCol) = before }
                }
                row.append((fileLine, fileCol))
                if !ch.isWhitespace { fileCol += ch.unicodeScalars.count }
            }
            row.append((fileLine, fileCol))
            table.append(row)
        }
    }

    func locate(_ line: Int, _ column: Int) -> (SourceLocation, String?) {
        guard line >= 1, line <= table.count, !table[line - 1].isEmpty else {
            return (start, doc.line(start.line))
        }
        let row = table[line - 1]
        let (l, c) = row[min(max(column - 1, 0), row.count - 1)]
        return (SourceLocation(file: doc.file, line: l, column: c), doc.line(l))
    }
}

/// Typed access to a rule's mapping, remembering which keys were read.
struct RuleFields {
    var values: [String: Node] = [:]
    var keys: [(String, Node)] = []
    var doc: YAMLDocument
    var ruleLocation: SourceLocation?

    init(map: Node.Mapping, doc: YAMLDocument) {
        self.doc = doc
        ruleLocation = map.mark.map { SourceLocation(file: doc.file, line: $0.line, column: $0.column) }
        for (k, v) in map {
            guard let key = k.scalar?.string else { continue }
            values[key] = v
            keys.append((key, k))
        }
    }

    func node(_ key: String) -> Node? { values[key] }

    mutating func string(_ key: String, required: Bool, _ faults: inout Faults) -> String? {
        guard let n = values[key] else {
            if required { faults.add(.schema, "a rule needs '\(key)'", ruleLocation, doc) }
            return nil
        }
        guard let s = n.scalar?.string, !s.isEmpty else {
            faults.add(.schema, "'\(key)' must be non-empty text", doc.location(n), doc)
            return nil
        }
        return s
    }

    mutating func strings(_ key: String, _ faults: inout Faults) -> [String]? {
        guard let n = values[key] else { return nil }
        if let s = n.scalar?.string { return [s] }
        guard let seq = n.sequence else {
            faults.add(.schema, "'\(key)' must be a list of text", doc.location(n), doc)
            return nil
        }
        var out: [String] = []
        for item in seq {
            guard let s = item.scalar?.string else {
                faults.add(.schema, "'\(key)' must be a list of text", doc.location(item), doc)
                return nil
            }
            out.append(s)
        }
        return out
    }

    mutating func bool(_ key: String, _ faults: inout Faults) -> Bool? {
        guard let n = values[key] else { return nil }
        switch n.scalar?.string {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            faults.add(.schema, "'\(key)' must be true or false", doc.location(n), doc)
            return nil
        }
    }

    mutating func int(_ key: String, _ faults: inout Faults) -> Int? {
        guard let n = values[key] else {
            faults.add(.schema, "a rule of this kind needs '\(key)'", ruleLocation, doc)
            return nil
        }
        guard let s = n.scalar?.string, let i = Int(s), i >= 0 else {
            faults.add(.schema, "'\(key)' must be a whole number, zero or more", doc.location(n), doc)
            return nil
        }
        return i
    }

    mutating func duration(_ key: String, required: Bool, _ faults: inout Faults) -> Duration? {
        guard let n = values[key] else {
            if required { faults.add(.schema, "a rule of this kind needs '\(key)'", ruleLocation, doc) }
            return nil
        }
        guard let s = n.scalar?.string, let d = Duration(parsing: s) else {
            faults.add(.schema, "'\(key)' must be a duration such as 90s, 10m, 48h or 30d", doc.location(n), doc)
            return nil
        }
        return d
    }

    mutating func field(_ key: String, _ faults: inout Faults) -> EventField? {
        guard let n = values[key] else { return nil }
        guard let s = n.scalar?.string, let f = EventField(path: s) else {
            faults.add(.unknownField, "'\(key)' must name an event field such as subject, actor or attributes.ticket", doc.location(n), doc)
            return nil
        }
        return f
    }

    mutating func fields(_ key: String, _ faults: inout Faults) -> [EventField]? {
        guard let n = values[key] else { return nil }
        let items = n.sequence.map(Array.init) ?? [n]
        var out: [EventField] = []
        for item in items {
            guard let s = item.scalar?.string, let f = EventField(path: s) else {
                faults.add(.unknownField, "'\(key)' must list event fields such as subject, actor or attributes.ticket", doc.location(item), doc)
                return nil
            }
            out.append(f)
        }
        return out
    }

    mutating func keys(
        _ key: String, tree: Taxonomy.Tree, treeName: String, _ faults: inout Faults, required: Bool = true
    ) -> [TaxonomyNode]? {
        guard let n = values[key] else {
            if required { faults.add(.schema, "a rule of this kind needs '\(key)'", ruleLocation, doc) }
            return nil
        }
        let items = n.sequence.map(Array.init) ?? [n]
        var out: [TaxonomyNode] = []
        var ok = true
        for item in items {
            guard let s = item.scalar?.string else {
                faults.add(.schema, "'\(key)' must list taxonomy keys", doc.location(item), doc)
                ok = false
                continue
            }
            guard let node = tree.node(s) else {
                faults.add(.unknownKey, "'\(s)' is not a \(treeName) of the taxonomy", doc.location(item), doc)
                ok = false
                continue
            }
            out.append(node)
        }
        return ok ? out : nil
    }
}
