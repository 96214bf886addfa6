/// Stage 2: tokens → syntax tree, by recursive descent. Stops at the first fault.
///
///     expression := or
///     or         := and ("or" and)*
///     and        := not ("and" not)*
///     not        := "not" not | relation
///     relation   := primary [ ("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" | "under" | "not under") primary ]
///     primary    := literal | list | name | name "(" [expression ("," expression)*] ")" | "(" expression ")"
///     list       := "[" [primary ("," primary)* [","]] "]"
///
/// Relations do not chain: `a == b == c` is an error, not `(a == b) == c`.
public struct Parser {
    private let tokens: [Token]
    private var index = 0

    public static func parse(_ source: String) -> Result<Expr, ExpressionIssue> {
        switch Lexer.tokenize(source) {
        case .failure(let issue): return .failure(issue)
        case .success(let tokens): return parse(tokens: tokens)
        }
    }

    public static func parse(tokens: [Token]) -> Result<Expr, ExpressionIssue> {
        var parser = Parser(tokens: tokens)
        do throws(ExpressionIssue) {
            if parser.current.kind == .end {
                throw ExpressionIssue(.syntax, "empty expression", at: parser.current.position)
            }
            let expr = try parser.orExpression()
            guard parser.current.kind == .end else {
                throw ExpressionIssue(
                    .syntax, "unexpected \(parser.current.kind.spoken) after a complete expression; join conditions with 'and' or 'or'",
                    at: parser.current.position)
            }
            return .success(expr)
        } catch {
            return .failure(error)
        }
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    private var current: Token { tokens[index] }
    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private mutating func orExpression() throws(ExpressionIssue) -> Expr {
        var left = try andExpression()
        while current.kind == .or {
            let at = current.position
            advance()
            left = Expr(.or(left, try andExpression()), at: at)
        }
        return left
    }

    private mutating func andExpression() throws(ExpressionIssue) -> Expr {
        var left = try notExpression()
        while current.kind == .and {
            let at = current.position
            advance()
            left = Expr(.and(left, try notExpression()), at: at)
        }
        return left
    }

    private mutating func notExpression() throws(ExpressionIssue) -> Expr {
        if current.kind == .not {
            let at = current.position
            advance()
            return Expr(.not(try notExpression()), at: at)
        }
        return try relation()
    }

    private mutating func relation() throws(ExpressionIssue) -> Expr {
        let left = try primary()
        guard let (make, at) = relationOperator() else { return left }
        let right = try primary()
        let result = make(left, right, at)
        if relationOperator() != nil {
            throw ExpressionIssue(
                .syntax, "comparisons do not chain; join them with 'and' or 'or', or add parentheses", at: tokens[index - 1].position)
        }
        return result
    }

    /// Consumes a relation operator (`==` … `>=`, `in`, `not in`, `under`, `not under`) and says how to build its node.
    private mutating func relationOperator() -> ((Expr, Expr, SourcePosition) -> Expr, SourcePosition)? {
        let at = current.position
        switch current.kind {
        case .comparison(let op):
            advance()
            return ({ Expr(.compare(op, $0, $1), at: $2) }, at)
        case .in:
            advance()
            return ({ Expr(.in($0, $1), at: $2) }, at)
        case .under:
            advance()
            return ({ Expr(.under($0, $1), at: $2) }, at)
        case .not where index + 1 < tokens.count && (tokens[index + 1].kind == .in || tokens[index + 1].kind == .under):
            let isIn = tokens[index + 1].kind == .in
            let opAt = tokens[index + 1].position
            advance(); advance()
            return ({ l, r, _ in Expr(.not(Expr(isIn ? .in(l, r) : .under(l, r), at: opAt)), at: at) }, at)
        default:
            return nil
        }
    }

    private mutating func primary() throws(ExpressionIssue) -> Expr {
        let token = current
        let at = token.position
        switch token.kind {
        case .string(let s): advance(); return Expr(.string(s), at: at)
        case .number(let n): advance(); return Expr(.number(n), at: at)
        case .boolean(let b): advance(); return Expr(.boolean(b), at: at)
        case .duration(let d): advance(); return Expr(.duration(d), at: at)
        case .leftParen:
            advance()
            let inner = try orExpression()
            guard current.kind == .rightParen else {
                throw ExpressionIssue(
                    .syntax, "expected ')' to close the '(' at \(at), found \(current.kind.spoken)", at: current.position)
            }
            advance()
            return inner
        case .leftBracket:
            advance()
            var items: [Expr] = []
            while current.kind != .rightBracket {
                items.append(try primary())
                if current.kind == .comma { advance(); continue }
                guard current.kind == .rightBracket else {
                    throw ExpressionIssue(
                        .syntax, "expected ',' or ']' in the list opened at \(at), found \(current.kind.spoken)", at: current.position)
                }
            }
            advance()
            return Expr(.list(items), at: at)
        case .identifier(let name):
            advance()
            guard current.kind == .leftParen else { return Expr(.name(name), at: at) }
            advance()
            var arguments: [Expr] = []
            while current.kind != .rightParen {
                arguments.append(try orExpression())
                if current.kind == .comma { advance(); continue }
                guard current.kind == .rightParen else {
                    throw ExpressionIssue(
                        .syntax, "expected ',' or ')' in the call of \(name)(), found \(current.kind.spoken)", at: current.position)
                }
            }
            advance()
            return Expr(.call(function: name, arguments: arguments), at: at)
        default:
            throw ExpressionIssue(.syntax, "expected a value, a name or '(', found \(token.kind.spoken)", at: at)
        }
    }
}
