import Events

/// A position inside an expression's own text: 1-based line and column (columns count characters).
public struct SourcePosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
    public static func < (a: SourcePosition, b: SourcePosition) -> Bool { (a.line, a.column) < (b.line, b.column) }
}

/// The comparison operators of the rule language.
public enum ComparisonOperator: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="

    public var description: String { rawValue }

    /// The operator that gives the same answer with its operands swapped (`a < b` is `b > a`).
    public var swapped: ComparisonOperator {
        switch self {
        case .equal, .notEqual: self
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        }
    }

    public var isOrdering: Bool { self != .equal && self != .notEqual }

    public func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .equal: a == b
        case .notEqual: a != b
        case .less: a < b
        case .lessOrEqual: a <= b
        case .greater: a > b
        case .greaterOrEqual: a >= b
        }
    }
}

/// One token of an expression, with where it starts.
public struct Token: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A name, dots included: `event.attributes.ticket`, `list.disclosed`, `hour`.
        case identifier(String)
        case string(String)
        case number(Double)
        case duration(Duration)
        case boolean(Bool)
        case comparison(ComparisonOperator)
        case and, or, not, `in`, under
        case leftParen, rightParen, leftBracket, rightBracket, comma
        case end
    }

    public var kind: Kind
    public var position: SourcePosition

    public init(_ kind: Kind, at position: SourcePosition) {
        self.kind = kind
        self.position = position
    }

    /// `kind(value)@line:column`, e.g. `ident(event.type)@1:1`, `==@1:12`, `string("share")@1:15`.
    public var description: String { "\(kind.text)@\(position)" }
}

extension Token.Kind {
    /// The token as it prints in `Lexer.describe` and in syntax errors.
    public var text: String {
        switch self {
        case .identifier(let name): "ident(\(name))"
        case .string(let s): "string(\(quoted(s)))"
        case .number(let n): "number(\(formatNumber(n)))"
        case .duration(let d): "duration(\(d))"
        case .boolean(let b): "bool(\(b))"
        case .comparison(let op): op.rawValue
        case .and: "and"
        case .or: "or"
        case .not: "not"
        case .in: "in"
        case .under: "under"
        case .leftParen: "("
        case .rightParen: ")"
        case .leftBracket: "["
        case .rightBracket: "]"
        case .comma: ","
        case .end: "end"
        }
    }

    /// How a syntax error names the token: `')'`, `the name 'event.actor'`, `the end of the expression`.
    public var spoken: String {
        switch self {
        case .identifier(let name): "the name '\(name)'"
        case .string(let s): "the string \(quoted(s))"
        case .number(let n): "the number \(formatNumber(n))"
        case .duration(let d): "the duration \(d)"
        case .boolean(let b): "'\(b)'"
        case .end: "the end of the expression"
        default: "'\(text)'"
        }
    }
}

/// A string literal as the language spells it: double quotes, with `\"`, `\\`, `\n`, `\t`, `\r` escaped.
public func quoted(_ s: String) -> String {
    var out = "\""
    for c in s {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default: out.append(c)
        }
    }
    return out + "\""
}

/// A number as the language spells it: `9`, `1.5`.
public func formatNumber(_ n: Double) -> String {
    if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
    return String(n)
}
