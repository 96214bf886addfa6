import Events

/// Stage 1: expression text → tokens. Stops at the first fault (nothing after a broken token is reliable).
public enum Lexer {
    public static func tokenize(_ source: String) -> Result<[Token], ExpressionIssue> {
        var scanner = Scanner(Array(source))
        do throws(ExpressionIssue) {
            var tokens: [Token] = []
            while true {
                let token = try scanner.next()
                tokens.append(token)
                if token.kind == .end { return .success(tokens) }
            }
        } catch {
            return .failure(error)
        }
    }

    /// The tokens as one line of text: `ident(event.type)@1:1 ==@1:12 string("share")@1:15 end@1:22`.
    public static func describe(_ tokens: [Token]) -> String {
        tokens.map(\.description).joined(separator: " ")
    }

    static let keywords: [String: Token.Kind] = [
        "and": .and, "or": .or, "not": .not, "in": .in, "under": .under,
        "true": .boolean(true), "false": .boolean(false),
    ]
}

private struct Scanner {
    let chars: [Character]
    var index = 0
    var line = 1
    var column = 1

    init(_ chars: [Character]) { self.chars = chars }

    var current: Character? { index < chars.count ? chars[index] : nil }
    func peek(_ offset: Int = 1) -> Character? { index + offset < chars.count ? chars[index + offset] : nil }
    var position: SourcePosition { SourcePosition(line: line, column: column) }

    mutating func advance() {
        if chars[index].isNewline { line += 1; column = 1 } else { column += 1 }
        index += 1
    }

    mutating func next() throws(ExpressionIssue) -> Token {
        while let c = current, c.isWhitespace { advance() }
        let start = position
        guard let c = current else { return Token(.end, at: start) }
        func single(_ kind: Token.Kind) -> Token { advance(); return Token(kind, at: start) }
        switch c {
        case "(": return single(.leftParen)
        case ")": return single(.rightParen)
        case "[": return single(.leftBracket)
        case "]": return single(.rightBracket)
        case ",": return single(.comma)
        case "\"", "'": return try string(quote: c, start: start)
        case "=", "!", "<", ">": return try comparison(c, start: start)
        case "&", "|":
            let word = c == "&" ? "and" : "or"
            throw ExpressionIssue(.syntax, "unexpected '\(c)'; write '\(word)'", at: start)
        default:
            if c.isASCII && c.isNumber { return try number(start: start) }
            if c.isLetter || c == "_" { return try identifier(start: start) }
            throw ExpressionIssue(.syntax, "unexpected character '\(c)'", at: start)
        }
    }

    mutating func comparison(_ c: Character, start: SourcePosition) throws(ExpressionIssue) -> Token {
        advance()
        let followedByEqual = current == "="
        if followedByEqual { advance() }
        switch (c, followedByEqual) {
        case ("=", true): return Token(.comparison(.equal), at: start)
        case ("!", true): return Token(.comparison(.notEqual), at: start)
        case ("<", true): return Token(.comparison(.lessOrEqual), at: start)
        case (">", true): return Token(.comparison(.greaterOrEqual), at: start)
        case ("<", false): return Token(.comparison(.less), at: start)
        case (">", false): return Token(.comparison(.greater), at: start)
        case ("=", false): throw ExpressionIssue(.syntax, "unexpected '='; compare with '=='", at: start)
        default: throw ExpressionIssue(.syntax, "unexpected '!'; write 'not' or '!='", at: start)
        }
    }

    mutating func string(quote: Character, start: SourcePosition) throws(ExpressionIssue) -> Token {
        advance()
        var value = ""
        while let c = current {
            if c == quote { advance(); return Token(.string(value), at: start) }
            if c.isNewline { break }
            if c == "\\" {
                let escapeAt = position
                advance()
                switch current {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                case "\\": value.append("\\")
                case "\"": value.append("\"")
                case "'": value.append("'")
                case let other?:
                    throw ExpressionIssue(.syntax, "unknown escape '\\\(other)' in a string; use \\\" \\' \\\\ \\n \\t or \\r", at: escapeAt)
                case nil:
                    break
                }
                if current != nil { advance() }
                continue
            }
            value.append(c)
            advance()
        }
        throw ExpressionIssue(.syntax, "unterminated string: no closing \(quote) on this line", at: start)
    }

    mutating func number(start: SourcePosition) throws(ExpressionIssue) -> Token {
        var text = ""
        while let c = current, c.isASCII, c.isNumber { text.append(c); advance() }
        if current == ".", let d = peek(), d.isASCII, d.isNumber {
            text.append("."); advance()
            while let c = current, c.isASCII, c.isNumber { text.append(c); advance() }
        }
        if let c = current, c.isLetter || c == "_" {
            while let c = current, c.isLetter || c.isNumber || c == "_" { text.append(c); advance() }
            guard let d = Duration(parsing: text) else {
                throw ExpressionIssue(
                    .syntax, "invalid duration '\(text)': write a whole number and one unit of ms, s, m, h, d or w (90s, 10m, 48h, 30d)",
                    at: start)
            }
            return Token(.duration(d), at: start)
        }
        guard let n = Double(text) else { throw ExpressionIssue(.syntax, "invalid number '\(text)'", at: start) }
        return Token(.number(n), at: start)
    }

    mutating func identifier(start: SourcePosition) throws(ExpressionIssue) -> Token {
        var text = ""
        func isNameCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        while let c = current, isNameCharacter(c) { text.append(c); advance() }
        while current == "." {
            let dotAt = position
            text.append("."); advance()
            guard let c = current, isNameCharacter(c) || c == "-" else {
                throw ExpressionIssue(.syntax, "expected a name after '\(text)'", at: dotAt.advancedColumn(1))
            }
            while let c = current, isNameCharacter(c) || c == "-" { text.append(c); advance() }
        }
        return Token(Lexer.keywords[text] ?? .identifier(text), at: start)
    }
}

extension SourcePosition {
    func advancedColumn(_ n: Int) -> SourcePosition { SourcePosition(line: line, column: column + n) }
}
