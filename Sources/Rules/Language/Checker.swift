import Events

/// The two taxonomy trees a key can belong to.
public enum KeyTree: String, Hashable, Sendable {
    /// Data uses (`event.purpose`).
    case purposes
    /// Data categories (`event.categories`).
    case categories

    /// How messages name the tree.
    public var spoken: String { self == .purposes ? "data-use (purpose) taxonomy" : "data-category taxonomy" }
}

/// The types of the rule language.
public enum ValueType: Hashable, Sendable, CustomStringConvertible {
    case string, number, bool, duration, time
    case key(KeyTree)
    case stringList, numberList
    case keyList(KeyTree)
    /// The type of a node whose fault has been reported; it type-checks with everything, so one fault is told once.
    case invalid

    public var description: String {
        switch self {
        case .string: "string"
        case .number: "number"
        case .bool: "bool"
        case .duration: "duration"
        case .time: "time"
        case .key(.purposes): "purpose"
        case .key(.categories): "category"
        case .stringList: "list<string>"
        case .numberList: "list<number>"
        case .keyList(.purposes): "list<purpose>"
        case .keyList(.categories): "list<category>"
        case .invalid: "invalid"
        }
    }

    /// How messages name a value of the type: "a string", "a list of data categories".
    var spoken: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .bool: "true or false"
        case .duration: "a duration"
        case .time: "a time"
        case .key(.purposes): "a purpose key"
        case .key(.categories): "a data-category key"
        case .stringList: "a list of strings"
        case .numberList: "a list of numbers"
        case .keyList(.purposes): "a list of purpose keys"
        case .keyList(.categories): "a list of data-category keys"
        case .invalid: "an invalid value"
        }
    }

    var tree: KeyTree? {
        switch self {
        case .key(let t), .keyList(let t): t
        default: nil
        }
    }
}

/// The functions of the rule language.
public enum Function: String, Hashable, Sendable, CaseIterable {
    case exists, hour, weekday
}

/// Stage 3 output: the syntax tree with names resolved, literals read as what they are compared with, and types.
public struct TypedExpr: Hashable, Sendable, CustomStringConvertible {
    public indirect enum Kind: Hashable, Sendable {
        case string(String)
        case number(Double)
        case boolean(Bool)
        case duration(Duration)
        /// A string literal compared with `event.time`, read as RFC 3339.
        case time(Timestamp)
        /// A string literal read as a key of a taxonomy tree.
        case key(TaxonomyNode)
        /// A list literal, or `list.NAME` (then `name` is set).
        case strings([String], name: String?)
        case numbers([Double])
        case keys([TaxonomyNode], name: String?)
        case field(EventField)
        case call(Function, TypedExpr)
        case not(TypedExpr)
        case and(TypedExpr, TypedExpr)
        case or(TypedExpr, TypedExpr)
        case compare(ComparisonOperator, TypedExpr, TypedExpr)
        case `in`(TypedExpr, TypedExpr)
        case under(TypedExpr, TypedExpr)
    }

    public var kind: Kind
    public var type: ValueType
    public var position: SourcePosition

    public init(_ kind: Kind, _ type: ValueType, at position: SourcePosition) {
        self.kind = kind
        self.type = type
        self.position = position
    }

    /// S-expression text with types: leaves as `value:type`, nodes as `(op:type …)`.
    public var description: String {
        switch kind {
        case .string(let s): "\(quoted(s)):\(type)"
        case .number(let n): "\(formatNumber(n)):\(type)"
        case .boolean(let b): "\(b):\(type)"
        case .duration(let d): "\(d):\(type)"
        case .time(let t): "\(t):\(type)"
        case .key(let node): "\(quoted(node.key)):\(type)"
        case .strings(let items, let name): "\(name.map { "list.\($0)" } ?? "[" + items.map(quoted).joined(separator: " ") + "]"):\(type)"
        case .numbers(let items): "[\(items.map(formatNumber).joined(separator: " "))]:\(type)"
        case .keys(let nodes, let name): "\(name.map { "list.\($0)" } ?? "[" + nodes.map { quoted($0.key) }.joined(separator: " ") + "]"):\(type)"
        case .field(let f): "\(f):\(type)"
        case .call(let f, let arg): "(\(f.rawValue)():\(type) \(arg))"
        case .not(let e): "(not:\(type) \(e))"
        case .and(let a, let b): "(and:\(type) \(a) \(b))"
        case .or(let a, let b): "(or:\(type) \(a) \(b))"
        case .compare(let op, let a, let b): "(\(op):\(type) \(a) \(b))"
        case .in(let a, let b): "(in:\(type) \(a) \(b))"
        case .under(let a, let b): "(under:\(type) \(a) \(b))"
        }
    }

    var field: EventField? {
        if case .field(let f) = kind { return f }
        return nil
    }
}

/// Stage 3: syntax tree → typed tree. Collects every fault of the expression, not only the first.
public struct Checker {
    public let environment: ExpressionEnvironment
    private var issues: [ExpressionIssue] = []

    /// The values `event.type` and `event.status` can hold; a literal outside them can never match.
    static let allowedValues: [EventField: [String]] = [
        .type: EventType.allCases.map(\.name),
        .status: ["granted", "withdrawn"],
    ]

    /// Checks a whole expression; `when`, `start` and `satisfied_by` must be true or false.
    public static func check(_ expr: Expr, environment: ExpressionEnvironment) -> Result<TypedExpr, ExpressionIssues> {
        var checker = Checker(environment: environment)
        let typed = checker.check(expr)
        if typed.type != .bool && typed.type != .invalid {
            checker.issue(.type, "an expression here must be true or false, but this is \(typed.type.spoken)", at: expr.start)
        }
        if checker.issues.isEmpty { return .success(typed) }
        return .failure(ExpressionIssues(checker.issues.sorted()))
    }

    private init(environment: ExpressionEnvironment) { self.environment = environment }

    private mutating func issue(_ code: RuleError.Code, _ message: String, at position: SourcePosition) {
        issues.append(ExpressionIssue(code, message, at: position))
    }

    private func invalid(_ expr: Expr) -> TypedExpr { TypedExpr(.boolean(false), .invalid, at: expr.position) }

    private func tree(_ t: KeyTree) -> Taxonomy.Tree { t == .purposes ? environment.taxonomy.uses : environment.taxonomy.categories }

    // MARK: - Nodes

    private mutating func check(_ expr: Expr) -> TypedExpr {
        let at = expr.position
        switch expr.kind {
        case .string(let s): return TypedExpr(.string(s), .string, at: at)
        case .number(let n): return TypedExpr(.number(n), .number, at: at)
        case .boolean(let b): return TypedExpr(.boolean(b), .bool, at: at)
        case .duration(let d): return TypedExpr(.duration(d), .duration, at: at)
        case .list(let items): return checkList(items, at: at)
        case .name(let name): return checkName(name, at: at)
        case .call(let f, let args): return checkCall(f, args, at: at)
        case .not(let e):
            let t = requireBool(check(e), "'not'")
            return TypedExpr(.not(t), .bool, at: at)
        case .and(let a, let b):
            let l = requireBool(check(a), "'and'"), r = requireBool(check(b), "'and'")
            return TypedExpr(.and(l, r), .bool, at: at)
        case .or(let a, let b):
            let l = requireBool(check(a), "'or'"), r = requireBool(check(b), "'or'")
            return TypedExpr(.or(l, r), .bool, at: at)
        case .compare(let op, let a, let b): return checkCompare(op, a, b, at: at)
        case .in(let a, let b): return checkIn(a, b, at: at)
        case .under(let a, let b): return checkUnder(a, b, at: at)
        }
    }

    private mutating func requireBool(_ t: TypedExpr, _ op: String) -> TypedExpr {
        if t.type != .bool && t.type != .invalid {
            issue(.type, "\(op) takes conditions (true or false), but this is \(t.type.spoken)", at: startOf(t))
        }
        return t
    }

    private func startOf(_ t: TypedExpr) -> SourcePosition {
        switch t.kind {
        case .and(let a, _), .or(let a, _), .compare(_, let a, _), .in(let a, _), .under(let a, _): startOf(a)
        default: t.position
        }
    }

    private mutating func checkList(_ items: [Expr], at: SourcePosition) -> TypedExpr {
        var strings: [String] = [], numbers: [Double] = []
        for item in items {
            switch item.kind {
            case .string(let s): strings.append(s)
            case .number(let n): numbers.append(n)
            default:
                issue(.type, "a list literal holds strings or numbers only", at: item.position)
                return invalid(item)
            }
        }
        if !strings.isEmpty && !numbers.isEmpty {
            issue(.type, "a list literal holds strings or numbers, not both", at: at)
            return TypedExpr(.boolean(false), .invalid, at: at)
        }
        if !numbers.isEmpty { return TypedExpr(.numbers(numbers), .numberList, at: at) }
        return TypedExpr(.strings(strings, name: nil), .stringList, at: at)
    }

    private mutating func checkName(_ name: String, at: SourcePosition) -> TypedExpr {
        let fieldNames = EventField.named.keys.map { "event.\($0)" }
        if name == "event" || name == "event.attributes" {
            let what = name == "event" ? "a field: event.type, event.actor, event.attributes.KEY, …" : "an attribute: event.attributes.KEY"
            issue(.unknownField, "'\(name)' needs \(what)", at: at)
            return TypedExpr(.boolean(false), .invalid, at: at)
        }
        if name.hasPrefix("event.") {
            guard let field = EventField(path: name) else {
                issue(.unknownField, "unknown event field '\(name)'" + Suggestion.hint(for: name, among: fieldNames), at: at)
                return TypedExpr(.boolean(false), .invalid, at: at)
            }
            return TypedExpr(.field(field), Self.type(of: field), at: at)
        }
        if name == "list" || name.hasPrefix("list.") {
            let listName = String(name.dropFirst(5))
            guard let values = environment.lists[listName] else {
                let known = environment.lists.keys.sorted()
                let hint = Suggestion.hint(for: listName, among: known, quote: { "'list.\($0)'" })
                let defined = known.isEmpty ? "no lists are defined" : "the lists are " + known.map { "list.\($0)" }.joined(separator: ", ")
                issue(.unknownList, "unknown list '\(name)'\(hint.isEmpty ? "; \(defined)" : hint)", at: at)
                return TypedExpr(.boolean(false), .invalid, at: at)
            }
            return TypedExpr(.strings(values, name: listName), .stringList, at: at)
        }
        if EventField.named[name] != nil {
            issue(.unknownField, "unknown name '\(name)'; did you mean 'event.\(name)'?", at: at)
        } else {
            issue(.unknownField, "unknown name '\(name)': name event fields as event.FIELD and lists as list.NAME", at: at)
        }
        return TypedExpr(.boolean(false), .invalid, at: at)
    }

    static func type(of field: EventField) -> ValueType {
        switch field {
        case .time: .time
        case .purpose: .key(.purposes)
        case .categories: .keyList(.categories)
        default: .string
        }
    }

    private mutating func checkCall(_ name: String, _ args: [Expr], at: SourcePosition) -> TypedExpr {
        guard let function = Function(rawValue: name) else {
            let hint = Suggestion.hint(for: name, among: Function.allCases.map(\.rawValue), quote: { "\($0)()" })
            issue(.unknownFunction, "unknown function '\(name)'\(hint.isEmpty ? "; the functions are exists(), hour() and weekday()" : hint)", at: at)
            for a in args { _ = check(a) }
            return TypedExpr(.boolean(false), .invalid, at: at)
        }
        guard args.count == 1 else {
            issue(.type, "\(name)() takes one argument, not \(args.count)", at: at)
            return TypedExpr(.boolean(false), .invalid, at: at)
        }
        let arg = check(args[0])
        if arg.type == .invalid { return TypedExpr(.boolean(false), .invalid, at: at) }
        switch function {
        case .exists:
            guard arg.field != nil else {
                issue(.type, "exists() takes an event field such as event.attributes.ticket", at: args[0].position)
                return TypedExpr(.boolean(false), .invalid, at: at)
            }
            return TypedExpr(.call(.exists, arg), .bool, at: at)
        case .hour, .weekday:
            guard arg.type == .time else {
                issue(.type, "\(name)() takes a time such as event.time, but this is \(arg.type.spoken)", at: args[0].position)
                return TypedExpr(.boolean(false), .invalid, at: at)
            }
            return TypedExpr(.call(function, arg), .number, at: at)
        }
    }

    // MARK: - Relations

    /// Reads a string literal as a time, a key or a value of `event.type`/`event.status`, as the other side wants.
    private mutating func adapt(_ literal: TypedExpr, to other: TypedExpr) -> TypedExpr {
        guard case .string(let s) = literal.kind else { return literal }
        switch other.type {
        case .time:
            guard let t = Timestamp(rfc3339: s) else {
                issue(.type, "\(quoted(s)) is not a time; write RFC 3339 such as \"2024-01-31T00:00:00Z\"", at: literal.position)
                return TypedExpr(.boolean(false), .invalid, at: literal.position)
            }
            return TypedExpr(.time(t), .time, at: literal.position)
        case .key(let tree):
            return resolveKey(s, in: tree, at: literal.position)
        case .string:
            if let field = other.field { checkValue(s, of: field, at: literal.position) }
            return literal
        default:
            return literal
        }
    }

    /// A value `event.type` or `event.status` can never hold is a fault: the condition could never be true.
    private mutating func checkValue(_ value: String, of field: EventField, at: SourcePosition, list: String? = nil) {
        guard let allowed = Self.allowedValues[field], !allowed.contains(value) else { return }
        let hint = Suggestion.hint(for: value, among: allowed, quote: quoted)
        let what = list.map { "list.\($0) holds \(quoted(value)), but \(field) is never that" } ?? "\(field) is never \(quoted(value))"
        let advice = hint.isEmpty ? "; it is one of " + allowed.map(quoted).joined(separator: ", ") : hint
        issue(.unknownValue, what + advice, at: at)
    }

    private mutating func resolveKey(_ key: String, in t: KeyTree, at: SourcePosition) -> TypedExpr {
        guard let node = tree(t).node(key) else {
            let hint = Suggestion.hint(for: key, among: tree(t).entries.map(\.key), quote: quoted)
            issue(.unknownKey, "unknown key \(quoted(key)) in the \(t.spoken)\(hint)", at: at)
            return TypedExpr(.boolean(false), .invalid, at: at)
        }
        return TypedExpr(.key(node), .key(t), at: at)
    }

    /// Reads a list of strings (a literal or `list.NAME`) as keys of a tree; every value must be a key.
    private mutating func resolveKeys(_ list: TypedExpr, in t: KeyTree, items: [Expr]?) -> TypedExpr {
        guard case .strings(let values, let name) = list.kind else { return list }
        var nodes: [TaxonomyNode] = []
        var ok = true
        for (i, value) in values.enumerated() {
            if let node = tree(t).node(value) { nodes.append(node); continue }
            ok = false
            if let name {
                let hint = Suggestion.hint(for: value, among: tree(t).entries.map(\.key), quote: quoted)
                issue(.unknownKey, "list.\(name) holds \(quoted(value)), which is not a key of the \(t.spoken)\(hint)", at: list.position)
            } else {
                _ = resolveKey(value, in: t, at: items?[i].position ?? list.position)
            }
        }
        return ok ? TypedExpr(.keys(nodes, name: name), .keyList(t), at: list.position) : TypedExpr(.boolean(false), .invalid, at: list.position)
    }

    private static func isComparable(_ t: ValueType) -> Bool {
        switch t {
        case .string, .number, .bool, .duration, .time, .key: true
        default: false
        }
    }

    private mutating func checkCompare(_ op: ComparisonOperator, _ a: Expr, _ b: Expr, at: SourcePosition) -> TypedExpr {
        var l = check(a), r = check(b)
        if l.type == .invalid || r.type == .invalid { return TypedExpr(.compare(op, l, r), .invalid, at: at) }
        l = adapt(l, to: r)
        r = adapt(r, to: l)
        if l.type == .invalid || r.type == .invalid { return TypedExpr(.compare(op, l, r), .invalid, at: at) }
        let result = TypedExpr(.compare(op, l, r), .bool, at: at)
        for side in [l, r] where !Self.isComparable(side.type) {
            let advice = side.type.tree != nil ? "; test taxonomy keys with 'under'" : side.type == .stringList ? "; test membership with 'in'" : ""
            issue(.type, "'\(op)' compares single values, but this is \(side.type.spoken)\(advice)", at: startOf(side))
            return TypedExpr(.compare(op, l, r), .invalid, at: at)
        }
        guard l.type == r.type else {
            issue(.type, "cannot compare \(l.type.spoken) with \(r.type.spoken)", at: at)
            return TypedExpr(.compare(op, l, r), .invalid, at: at)
        }
        if op.isOrdering && ![.number, .duration, .time].contains(l.type) {
            issue(.type, "'\(op)' orders numbers, durations and times; \(l.type) values have no order", at: at)
            return TypedExpr(.compare(op, l, r), .invalid, at: at)
        }
        return result
    }

    private mutating func checkIn(_ a: Expr, _ b: Expr, at: SourcePosition) -> TypedExpr {
        let l = check(a)
        var r = check(b)
        if l.type == .invalid || r.type == .invalid { return TypedExpr(.in(l, r), .invalid, at: at) }
        if case .string("*") = l.kind, r.field == .categories {
            // A delete of all of a subject's data lists "*" instead of category keys.
            return TypedExpr(.in(l, r), .bool, at: at)
        }
        guard r.type == .stringList || r.type == .numberList else {
            issue(.type, "'in' needs a list on its right ([\"a\", \"b\"] or list.NAME), but this is \(r.type.spoken)", at: startOf(r))
            return TypedExpr(.in(l, r), .invalid, at: at)
        }
        let items: [Expr]? = if case .list(let xs) = b.kind { xs } else { nil }
        switch (l.type, r.type) {
        case (.key(let tree), .stringList):
            r = resolveKeys(r, in: tree, items: items)
        case (.string, .stringList):
            if let field = l.field, case .strings(let values, let name) = r.kind {
                for (i, v) in values.enumerated() {
                    checkValue(v, of: field, at: items?[i].position ?? r.position, list: name)
                }
            }
        case (.number, .numberList):
            break
        case (.number, .stringList) where items?.isEmpty == true:
            break
        case (.keyList, _):
            issue(.type, "'in' tests one value, but this is \(l.type.spoken); test taxonomy keys with 'under'", at: startOf(l))
            return TypedExpr(.in(l, r), .invalid, at: at)
        default:
            issue(.type, "'in' looks for \(l.type.spoken) in \(r.type.spoken)", at: at)
            return TypedExpr(.in(l, r), .invalid, at: at)
        }
        if r.type == .invalid { return TypedExpr(.in(l, r), .invalid, at: at) }
        return TypedExpr(.in(l, r), .bool, at: at)
    }

    private mutating func checkUnder(_ a: Expr, _ b: Expr, at: SourcePosition) -> TypedExpr {
        var l = check(a), r = check(b)
        if l.type == .invalid || r.type == .invalid { return TypedExpr(.under(l, r), .invalid, at: at) }
        let trees = (l.type.tree, r.type.tree)
        let tree: KeyTree
        switch trees {
        case (let x?, let y?) where x != y:
            issue(.type, "'under' relates keys of one taxonomy, but the left side is \(l.type.spoken) and the right side \(r.type.spoken)", at: at)
            return TypedExpr(.under(l, r), .invalid, at: at)
        case (let x?, _), (nil, let x?):
            tree = x
        case (nil, nil):
            issue(.type, "'under' needs event.purpose or event.categories on one side, to know which taxonomy the keys are from", at: at)
            return TypedExpr(.under(l, r), .invalid, at: at)
        }
        func resolved(_ side: inout TypedExpr, _ syntax: Expr, _ checker: inout Checker) {
            switch side.kind {
            case .string(let s): side = checker.resolveKey(s, in: tree, at: side.position)
            case .strings:
                let items: [Expr]? = if case .list(let xs) = syntax.kind { xs } else { nil }
                side = checker.resolveKeys(side, in: tree, items: items)
            default:
                if side.type.tree == nil {
                    checker.issue(.type, "'under' relates taxonomy keys, but this is \(side.type.spoken)", at: checker.startOf(side))
                    side = TypedExpr(.boolean(false), .invalid, at: side.position)
                }
            }
        }
        resolved(&l, a, &self)
        resolved(&r, b, &self)
        if l.type == .invalid || r.type == .invalid { return TypedExpr(.under(l, r), .invalid, at: at) }
        return TypedExpr(.under(l, r), .bool, at: at)
    }
}
