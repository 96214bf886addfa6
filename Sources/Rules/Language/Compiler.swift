import Events

/// A compiled condition on one event.
public typealias EventPredicate = @Sendable (Event) -> Bool

/// Stage 4 output: a tree of closures and its text. Every name was resolved by the compiler: fields are read by
/// closures chosen per field, strings compared with symbol fields are interned `Symbol`s (compared by id), lists are
/// sets of symbols or strings, taxonomy literals are nodes and `under` tests pre-order intervals.
struct Plan: Sendable, CustomStringConvertible {
    let test: EventPredicate
    let text: String
    /// Set when the condition does not depend on the event.
    let constant: Bool?
    /// The event types (bit `1 << rawValue`) for which the condition can hold: the engine offers an event only to
    /// the rules that can act on its type. A superset: every type unless the condition says otherwise.
    let types: UInt32

    static let allTypes = EventType.allCases.reduce(UInt32(0)) { $0 | $1.bit }

    init(_ text: String, types: UInt32 = Plan.allTypes, _ test: @escaping EventPredicate) {
        self.text = text
        self.test = test
        self.constant = nil
        self.types = types
    }

    init(constant: Bool) {
        self.text = "(const \(constant))"
        self.test = pick(constant, { _ in true }, { _ in false })
        self.constant = constant
        self.types = constant ? Plan.allTypes : 0
    }

    var description: String { text }
}

/// Stage 4: typed tree → plan.
enum Compiler {
    static func compile(_ t: TypedExpr) -> Plan {
        switch t.kind {
        case .boolean(let b):
            return Plan(constant: b)
        case .not(let e):
            let p = compile(e)
            if let c = p.constant { return Plan(constant: !c) }
            let test = p.test
            return Plan("(not \(p))") { !test($0) }
        case .and(let a, let b):
            let l = compile(a), r = compile(b)
            if l.constant == false || r.constant == false { return Plan(constant: false) }
            if l.constant == true { return r }
            if r.constant == true { return l }
            let lt = l.test, rt = r.test
            return Plan("(and \(l) \(r))", types: l.types & r.types) { lt($0) && rt($0) }
        case .or(let a, let b):
            let l = compile(a), r = compile(b)
            if l.constant == true || r.constant == true { return Plan(constant: true) }
            if l.constant == false { return r }
            if r.constant == false { return l }
            let lt = l.test, rt = r.test
            return Plan("(or \(l) \(r))", types: l.types | r.types) { lt($0) || rt($0) }
        case .call(.exists, let arg):
            return exists(arg.field!)
        case .compare(let op, let a, let b):
            if a.type == .bool { return compareConditions(op, compile(a), compile(b)) }
            return compare(op, Operand(a), Operand(b))
        case .in(let a, let b):
            if case .string("*") = a.kind, b.field == .categories {
                return Plan("(deletes-all event.categories)") { $0.deletesAll }
            }
            return membership(Operand(a), b)
        case .under(let a, let b):
            return under(KeyOperand(a), KeyOperand(b))
        default:
            preconditionFailure("the checker lets only conditions reach here, not \(t)")
        }
    }

    // MARK: - exists()

    private static func exists(_ field: EventField) -> Plan {
        let text = "(exists \(field))"
        switch field {
        case .id, .type, .time, .subject: return Plan(constant: true)
        case .actor: return Plan(text) { $0.actor != nil }
        case .role: return Plan(text) { $0.role != nil }
        case .system: return Plan(text) { $0.system != nil }
        case .recipient: return Plan(text) { $0.recipient != nil }
        case .source: return Plan(text) { $0.source != nil }
        case .purpose: return Plan(text) { $0.purpose != nil }
        case .status: return Plan(text) { $0.status != nil }
        case .categories: return Plan(text) { $0.deletesAll || !$0.categories.isEmpty }
        case .attribute(let key): return Plan(text) { $0.attribute(key) != nil }
        }
    }

    // MARK: - Operands of comparisons and `in`

    /// A value side of a relation, resolved to how it is read.
    enum Operand {
        case constant(Constant)
        case string(String, @Sendable (Event) -> String?)
        case symbol(String, @Sendable (Event) -> Symbol?)
        case eventType
        case status
        case number(String, @Sendable (Event) -> Double)
        case time
        case purpose

        init(_ t: TypedExpr) {
            switch t.kind {
            case .string(let s): self = .constant(.string(s))
            case .number(let n): self = .constant(.number(n))
            case .boolean(let b): self = .constant(.bool(b))
            case .duration(let d): self = .constant(.duration(d))
            case .time(let ts): self = .constant(.time(ts))
            case .key(let node): self = .constant(.key(node))
            case .call(.hour, _): self = .number("(hour event.time)") { Double($0.time.hour) }
            case .call(.weekday, _): self = .number("(weekday event.time)") { Double($0.time.weekday) }
            case .field(let f):
                let name = f.description
                switch f {
                case .id: self = .string(name) { $0.id }
                case .subject: self = .string(name) { $0.subject }
                case .attribute(let key): self = .string(name) { $0.attribute(key) }
                case .actor: self = .symbol(name) { $0.actor }
                case .role: self = .symbol(name) { $0.role }
                case .system: self = .symbol(name) { $0.system }
                case .recipient: self = .symbol(name) { $0.recipient }
                case .source: self = .symbol(name) { $0.source }
                case .type: self = .eventType
                case .status: self = .status
                case .time: self = .time
                case .purpose: self = .purpose
                case .categories: preconditionFailure("the checker keeps event.categories out of comparisons")
                }
            default:
                preconditionFailure("not a single value: \(t)")
            }
        }

        var text: String {
            switch self {
            case .constant(let c): c.description
            case .string(let name, _), .symbol(let name, _), .number(let name, _): name
            case .eventType: "event.type"
            case .status: "event.status"
            case .time: "event.time"
            case .purpose: "event.purpose"
            }
        }

        /// Any string-like operand as optional text (for comparing two fields).
        var stringReader: (@Sendable (Event) -> String?)? {
            switch self {
            case .string(_, let get): get
            case .symbol(_, let get): { get($0)?.string }
            case .eventType: { $0.type.name }
            case .status: { $0.status?.description }
            default: nil
            }
        }
    }

    /// A value known at compile time.
    enum Constant: Hashable, CustomStringConvertible {
        case string(String), number(Double), bool(Bool), duration(Duration), time(Timestamp), key(TaxonomyNode)

        var description: String {
            switch self {
            case .string(let s): quoted(s)
            case .number(let n): formatNumber(n)
            case .bool(let b): String(b)
            case .duration(let d): d.description
            case .time(let t): t.description
            case .key(let k): quoted(k.key)
            }
        }

        func holds(_ op: ComparisonOperator, _ other: Constant) -> Bool {
            switch (self, other) {
            case let (.number(a), .number(b)): op.holds(a, b)
            case let (.duration(a), .duration(b)): op.holds(a, b)
            case let (.time(a), .time(b)): op.holds(a, b)
            default: op == .equal ? self == other : op == .notEqual ? self != other : false
            }
        }
    }

    // MARK: - Comparisons

    private static func compareConditions(_ op: ComparisonOperator, _ l: Plan, _ r: Plan) -> Plan {
        if let a = l.constant, let b = r.constant { return Plan(constant: op == .equal ? a == b : a != b) }
        let lt = l.test, rt = r.test
        if op == .equal { return Plan("(bool== \(l) \(r))") { lt($0) == rt($0) } }
        return Plan("(bool!= \(l) \(r))") { lt($0) != rt($0) }
    }

    private static func compare(_ op: ComparisonOperator, _ left: Operand, _ right: Operand) -> Plan {
        if case .constant(let a) = left, case .constant(let b) = right { return Plan(constant: a.holds(op, b)) }
        if case .constant = left { return compare(op.swapped, right, left) }
        let equal = op == .equal
        let eq = equal ? "==" : "!="
        let text = "(\(opName(left))\(op) \(left.text) \(right.text))"
        switch (left, right) {
        case (.eventType, .constant(.string(let s))):
            let t = EventType(name: s)!
            let bit = UInt32(1) << UInt32(t.rawValue)
            return Plan("(type\(eq) \(s))", types: equal ? bit : Plan.allTypes & ~bit, pick(equal, { $0.type == t }, { $0.type != t }))
        case (.status, .constant(.string(let s))):
            let status: ConsentStatus = s == "granted" ? .granted : .withdrawn
            return Plan("(status\(eq) \(s))", pick(equal, { $0.status == status }, { $0.status != status }))
        case (.symbol(_, let get), .constant(.string(let s))):
            let symbol = Symbol(s)
            return Plan(text, pick(equal, { get($0) == symbol }, { get($0) != symbol }))
        case (.string(_, let get), .constant(.string(let s))):
            return Plan(text, pick(equal, { get($0) == s }, { get($0) != s }))
        case (.purpose, .constant(.key(let node))):
            return Plan(text, pick(equal, { $0.purpose == node }, { $0.purpose != node }))
        case (.purpose, .purpose):
            return Plan(text, pick(equal, { $0.purpose != nil }, { $0.purpose == nil }))
        case (.number(_, let get), .constant(.number(let n))):
            return Plan(text, ordered(op, get, n))
        case (.number(_, let l), .number(_, let r)):
            return Plan(text, ordered(op, l, r))
        case (.time, .constant(.time(let t))):
            return Plan(text, ordered(op, { $0.time }, t))
        case (.time, .time):
            return Plan(constant: op.holds(0, 0))
        default:
            // Two string-like fields: equal when both are present and the same; `!=` otherwise.
            guard let l = left.stringReader, let r = right.stringReader else {
                preconditionFailure("the checker lets no other comparison through: \(text)")
            }
            return Plan(text, pick(equal, { e in l(e).map { $0 == r(e) } ?? false }, { e in l(e).map { $0 != r(e) } ?? true }))
        }
    }

    private static func opName(_ o: Operand) -> String {
        switch o {
        case .string: "string"
        case .symbol: "symbol"
        case .number: "number"
        case .time: "time"
        case .purpose: "purpose"
        case .eventType: "type"
        case .status: "status"
        case .constant: "const"
        }
    }

    /// A closure per operator, so the operator is chosen once, at compile time.
    private static func ordered<T: Comparable & Sendable>(
        _ op: ComparisonOperator, _ get: @escaping @Sendable (Event) -> T, _ c: T
    ) -> EventPredicate {
        switch op {
        case .equal: { get($0) == c }
        case .notEqual: { get($0) != c }
        case .less: { get($0) < c }
        case .lessOrEqual: { get($0) <= c }
        case .greater: { get($0) > c }
        case .greaterOrEqual: { get($0) >= c }
        }
    }

    private static func ordered<T: Comparable & Sendable>(
        _ op: ComparisonOperator, _ l: @escaping @Sendable (Event) -> T, _ r: @escaping @Sendable (Event) -> T
    ) -> EventPredicate {
        { op.holds(l($0), r($0)) }
    }

    // MARK: - in

    private static func membership(_ left: Operand, _ list: TypedExpr) -> Plan {
        let listText: String
        var strings: [String] = [], numbers: [Double] = [], nodes: [TaxonomyNode] = []
        switch list.kind {
        case .strings(let values, let name):
            strings = values
            listText = name.map { "list.\($0)" } ?? "[" + values.map(quoted).joined(separator: " ") + "]"
        case .numbers(let values):
            numbers = values
            listText = "[" + values.map(formatNumber).joined(separator: " ") + "]"
        case .keys(let values, let name):
            nodes = values
            listText = name.map { "list.\($0)" } ?? "[" + values.map { quoted($0.key) }.joined(separator: " ") + "]"
        default:
            preconditionFailure("the checker lets only lists through: \(list)")
        }
        let text = "(\(opName(left))-in \(left.text) \(listText))"
        switch left {
        case .constant(.string(let s)): return Plan(constant: strings.contains(s))
        case .constant(.number(let n)): return Plan(constant: numbers.contains(n))
        case .constant(.key(let k)): return Plan(constant: nodes.contains(k))
        case .eventType:
            let mask = strings.compactMap(EventType.init(name:)).reduce(UInt32(0)) { $0 | $1.bit }
            return Plan(text, types: mask) { mask & $0.type.bit != 0 }
        case .status:
            let granted = strings.contains("granted"), withdrawn = strings.contains("withdrawn")
            return Plan(text) { e in e.status.map { $0 == .granted ? granted : withdrawn } ?? false }
        case .symbol(_, let get):
            let set = Set(strings.map(Symbol.init))
            return Plan(text) { e in get(e).map(set.contains) ?? false }
        case .string(_, let get):
            let set = Set(strings)
            return Plan(text) { e in get(e).map(set.contains) ?? false }
        case .number(_, let get):
            let set = Set(numbers)
            return Plan(text) { set.contains(get($0)) }
        case .purpose:
            let set = Set(nodes.map(\.index))
            return Plan(text) { e in e.purpose.map { set.contains($0.index) } ?? false }
        default:
            preconditionFailure("the checker lets no other membership through: \(text)")
        }
    }

    // MARK: - under

    enum KeyOperand {
        case purpose, categories
        case constant([TaxonomyNode], String)

        init(_ t: TypedExpr) {
            switch t.kind {
            case .field(.purpose): self = .purpose
            case .field(.categories): self = .categories
            case .key(let node): self = .constant([node], quoted(node.key))
            case .keys(let nodes, let name):
                self = .constant(nodes, name.map { "list.\($0)" } ?? "[" + nodes.map { quoted($0.key) }.joined(separator: " ") + "]")
            default: preconditionFailure("not keys: \(t)")
            }
        }

        var text: String {
            switch self {
            case .purpose: "event.purpose"
            case .categories: "event.categories"
            case .constant(_, let text): text
            }
        }
    }

    private static func under(_ left: KeyOperand, _ right: KeyOperand) -> Plan {
        let text = "(under \(left.text) \(right.text))"
        switch (left, right) {
        case let (.constant(xs, _), .constant(ys, _)):
            return Plan(constant: xs.contains { x in ys.contains { x.isUnder($0) } })
        case (.purpose, .constant(let ys, _)):
            let ranges = Intervals(ys)
            return Plan("(purpose-under \(ranges))") { e in e.purpose.map { ranges.contains($0.index) } ?? false }
        case (.categories, .constant(let ys, _)):
            let ranges = Intervals(ys)
            return Plan("(categories-under \(ranges))") { e in
                if e.deletesAll { return true }
                for c in e.categories where ranges.contains(c.index) { return true }
                return false
            }
        case (.constant(let xs, _), .purpose):
            return Plan(text) { e in
                guard let p = e.purpose else { return false }
                return xs.contains { $0.isUnder(p) }
            }
        case (.constant(let xs, _), .categories):
            return Plan(text) { e in
                if e.deletesAll { return true }
                return e.categories.contains { c in xs.contains { $0.isUnder(c) } }
            }
        case (.purpose, .purpose):
            return Plan(text) { $0.purpose != nil }
        case (.categories, .categories):
            return Plan(text) { $0.deletesAll || !$0.categories.isEmpty }
        default:
            preconditionFailure("the checker keeps purposes and categories apart: \(text)")
        }
    }
}

/// The subtrees of a set of taxonomy nodes as sorted, disjoint pre-order intervals: a node is under one of the
/// set's keys exactly when its index falls in one interval.
struct Intervals: Sendable, CustomStringConvertible {
    private var starts: [Int32] = []
    private var ends: [Int32] = []
    private var keys: [String] = []

    init(_ nodes: [TaxonomyNode]) {
        for node in nodes.sorted(by: { $0.index < $1.index }) {
            if let last = ends.last, node.index < last { continue }  // inside the previous subtree
            starts.append(node.index)
            ends.append(node.end)
            keys.append(node.key)
        }
    }

    @inline(__always)
    func contains(_ index: Int32) -> Bool {
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] <= index { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 && index < ends[lo - 1]
    }

    var description: String {
        zip(keys, zip(starts, ends)).map { "\(quoted($0.0))[\($0.1.0),\($0.1.1))" }.joined(separator: " ")
    }
}

/// One of two closures, chosen at compile time (a ternary of closure literals defeats type inference).
@inline(__always)
func pick(_ condition: Bool, _ a: @escaping EventPredicate, _ b: @escaping EventPredicate) -> EventPredicate {
    condition ? a : b
}
