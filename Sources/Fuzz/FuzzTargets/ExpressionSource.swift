import Rules

/// A syntax tree written back in the rule language: operands that are not leaves in parentheses, so that the text
/// parses to the same tree whatever the precedence.
enum ExpressionSource {
    static func text(_ e: Expr) -> String {
        switch e.kind {
        case .string(let s): quoted(s)
        case .number(let n): number(n)
        case .boolean(let b): String(b)
        case .duration(let d): d.description
        case .list(let items): "[" + items.map(operand).joined(separator: ", ") + "]"
        case .name(let name): name
        case .call(let f, let arguments): f + "(" + arguments.map(text).joined(separator: ", ") + ")"
        case .not(let x): "not " + operand(x)
        case .and(let a, let b): operand(a) + " and " + operand(b)
        case .or(let a, let b): operand(a) + " or " + operand(b)
        case .compare(let op, let a, let b): operand(a) + " \(op) " + operand(b)
        case .in(let a, let b): operand(a) + " in " + operand(b)
        case .under(let a, let b): operand(a) + " under " + operand(b)
        }
    }

    private static func operand(_ e: Expr) -> String {
        switch e.kind {
        case .string, .number, .boolean, .duration, .list, .name, .call: text(e)
        default: "(" + text(e) + ")"
        }
    }

    /// A number as the lexer reads one: digits, and a fraction when needed; never an exponent.
    static func number(_ n: Double) -> String {
        guard n.isFinite else { return "1" + String(repeating: "0", count: 400) }
        let shortest = "\(n)"
        guard let e = shortest.firstIndex(of: "e"),
              let exponent = Int(shortest[shortest.index(after: e)...].replacing("+", with: ""))
        else { return shortest }
        let mantissa = shortest[..<e]
        let digits = mantissa.filter { $0 != "." }
        let point = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count) + exponent
        if point <= 0 { return "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return digits + String(repeating: "0", count: point - digits.count) }
        return String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
    }
}
