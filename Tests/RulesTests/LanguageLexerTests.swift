import Testing
@testable import Rules

@Suite("Expression lexer: text in, tokens out")
struct LanguageLexerTests {
    static let cases: [(String, String)] = [
        (#"event.type == "share""#, #"ident(event.type)@1:1 ==@1:12 string("share")@1:15 end@1:22"#),
        ("a != b <= c >= d < e > f", "ident(a)@1:1 !=@1:3 ident(b)@1:6 <=@1:8 ident(c)@1:11 >=@1:13 ident(d)@1:16 <@1:18 ident(e)@1:20 >@1:22 ident(f)@1:24 end@1:25"),
        ("not x in list.disclosed and y under z or true", "not@1:1 ident(x)@1:5 in@1:7 ident(list.disclosed)@1:10 and@1:25 ident(y)@1:29 under@1:31 ident(z)@1:37 or@1:39 bool(true)@1:42 end@1:46"),
        ("90s 10m 48h 30d 250ms 1w", "duration(90s)@1:1 duration(10m)@1:5 duration(2d)@1:9 duration(30d)@1:13 duration(250ms)@1:17 duration(7d)@1:23 end@1:25"),
        ("42 3.25 0", "number(42)@1:1 number(3.25)@1:4 number(0)@1:9 end@1:10"),
        (#"'it\'s' "a\"b\\c\n""#, #"string("it's")@1:1 string("a\"b\\c\n")@1:9 end@1:20"#),
        ("[\"a\", 'b']", #"[@1:1 string("a")@1:2 ,@1:5 string("b")@1:7 ]@1:10 end@1:11"#),
        ("hour(event.time)", "ident(hour)@1:1 (@1:5 ident(event.time)@1:6 )@1:16 end@1:17"),
        ("exists(event.attributes.x-request-id)", "ident(exists)@1:1 (@1:7 ident(event.attributes.x-request-id)@1:8 )@1:37 end@1:38"),
        ("event.actor == \"x\"\n  and false", #"ident(event.actor)@1:1 ==@1:13 string("x")@1:16 and@2:3 bool(false)@2:7 end@2:12"#),
        ("", "end@1:1"),
        ("AND", "ident(AND)@1:1 end@1:4"),
    ]

    @Test(arguments: cases)
    func tokens(source: String, expected: String) throws {
        let tokens = try Lexer.tokenize(source).get()
        #expect(Lexer.describe(tokens) == expected)
    }

    static let faults: [(String, String)] = [
        (#"event.type == "share"#, "1:15: syntax: unterminated string: no closing \" on this line"),
        ("x == 'a\nb'", "1:6: syntax: unterminated string: no closing ' on this line"),
        ("x > 10x", "1:5: syntax: invalid duration '10x': write a whole number and one unit of ms, s, m, h, d or w (90s, 10m, 48h, 30d)"),
        ("x > 1.5h", "1:5: syntax: invalid duration '1.5h': write a whole number and one unit of ms, s, m, h, d or w (90s, 10m, 48h, 30d)"),
        ("x = 1", "1:3: syntax: unexpected '='; compare with '=='"),
        ("!x", "1:1: syntax: unexpected '!'; write 'not' or '!='"),
        ("a && b", "1:3: syntax: unexpected '&'; write 'and'"),
        ("a || b", "1:3: syntax: unexpected '|'; write 'or'"),
        ("a # b", "1:3: syntax: unexpected character '#'"),
        ("event.", "1:7: syntax: expected a name after 'event.'"),
        (#""a\qb""#, "1:3: syntax: unknown escape '\\q' in a string; use \\\" \\' \\\\ \\n \\t or \\r"),
    ]

    @Test(arguments: faults)
    func fault(source: String, expected: String) {
        switch Lexer.tokenize(source) {
        case .success(let tokens): Issue.record("expected a fault, got \(Lexer.describe(tokens))")
        case .failure(let issue): #expect(issue.description == expected)
        }
    }
}
