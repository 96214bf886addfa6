import Events

/// Stage 2 output: the syntax tree of an expression, as written (names not yet resolved).
public struct Expr: Hashable, Sendable, CustomStringConvertible {
    public indirect enum Kind: Hashable, Sendable {
        case string(String)
        case number(Double)
        case boolean(Bool)
        case duration(Duration)
        case list([Expr])
        /// A dotted name: `event.actor`, `event.attributes.ticket`, `list.disclosed`.
        case name(String)
        case call(function: String, arguments: [Expr])
        case not(Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case compare(ComparisonOperator, Expr, Expr)
        case `in`(Expr, Expr)
        case under(Expr, Expr)
    }

    public var kind: Kind
    /// Where a fault of this node is shown: a leaf's first character, an operator's own token, a call's name.
    public var position: SourcePosition

    public init(_ kind: Kind, at position: SourcePosition) {
        self.kind = kind
        self.position = position
    }

    /// Canonical S-expression text: `(and (== event.type "share") (not (in event.recipient list.disclosed)))`.
    public var description: String {
        switch kind {
        case .string(let s): quoted(s)
        case .number(let n): formatNumber(n)
        case .boolean(let b): String(b)
        case .duration(let d): d.description
        case .list(let items): "[" + items.map(\.description).joined(separator: " ") + "]"
        case .name(let n): n
        case .call(let f, let args): "(" + ([f + "()"] + args.map(\.description)).joined(separator: " ") + ")"
        case .not(let e): "(not \(e))"
        case .and(let a, let b): "(and \(a) \(b))"
        case .or(let a, let b): "(or \(a) \(b))"
        case .compare(let op, let a, let b): "(\(op) \(a) \(b))"
        case .in(let a, let b): "(in \(a) \(b))"
        case .under(let a, let b): "(under \(a) \(b))"
        }
    }

    /// The position of the leftmost character of the whole expression (for a binary node, its left operand's).
    public var start: SourcePosition {
        switch kind {
        case .and(let a, _), .or(let a, _), .compare(_, let a, _), .in(let a, _), .under(let a, _): a.start
        default: position
        }
    }
}
