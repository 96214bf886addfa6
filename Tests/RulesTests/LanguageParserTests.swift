import Testing
@testable import Rules

@Suite("Expression parser: text in, S-expression out")
struct LanguageParserTests {
    static let cases: [(String, String)] = [
        (#"event.type == "share" and not event.recipient in list.disclosed"#,
         #"(and (== event.type "share") (not (in event.recipient list.disclosed)))"#),
        ("a or b and c", "(or a (and b c))"),
        ("a and b or c", "(or (and a b) c)"),
        ("(a or b) and c", "(and (or a b) c)"),
        ("a and b and c", "(and (and a b) c)"),
        ("a or b or c", "(or (or a b) c)"),
        ("not not a", "(not (not a))"),
        ("not a == b", "(not (== a b))"),
        ("not a and b", "(and (not a) b)"),
        ("x not in [\"a\", \"b\",]", #"(not (in x ["a" "b"]))"#),
        ("x not under y", "(not (under x y))"),
        ("event.categories under [\"user.contact\"]", #"(under event.categories ["user.contact"])"#),
        ("hour(event.time) >= 9 and weekday(event.time) <= 5", "(and (>= (hour() event.time) 9) (<= (weekday() event.time) 5))"),
        ("exists(event.attributes.ticket)", "(exists() event.attributes.ticket)"),
        ("10m < 1h", "(< 10m 1h)"),
        ("x == 1.5", "(== x 1.5)"),
        ("[]", "[]"),
        ("true", "true"),
        ("((a))", "a"),
        ("f()", "(f())"),
        ("a != 'it\\'s'", #"(!= a "it's")"#),
    ]

    @Test(arguments: cases)
    func tree(source: String, expected: String) throws {
        #expect(try Parser.parse(source).get().description == expected)
    }

    static let faults: [(String, String)] = [
        ("(a and b", "1:9: syntax: expected ')' to close the '(' at 1:1, found the end of the expression"),
        ("a and b)", "1:8: syntax: unexpected ')' after a complete expression; join conditions with 'and' or 'or'"),
        ("a == b c", "1:8: syntax: unexpected the name 'c' after a complete expression; join conditions with 'and' or 'or'"),
        ("a == b == c", "1:8: syntax: comparisons do not chain; join them with 'and' or 'or', or add parentheses"),
        ("a in b under c", "1:8: syntax: comparisons do not chain; join them with 'and' or 'or', or add parentheses"),
        ("a and", "1:6: syntax: expected a value, a name or '(', found the end of the expression"),
        ("== b", "1:1: syntax: expected a value, a name or '(', found '=='"),
        ("", "1:1: syntax: empty expression"),
        ("   ", "1:4: syntax: empty expression"),
        ("x in [\"a\" \"b\"]", "1:11: syntax: expected ',' or ']' in the list opened at 1:6, found the string \"b\""),
        ("hour(event.time", "1:16: syntax: expected ',' or ')' in the call of hour(), found the end of the expression"),
        ("a and\n  (b or", "2:8: syntax: expected a value, a name or '(', found the end of the expression"),
    ]

    @Test(arguments: faults)
    func fault(source: String, expected: String) {
        switch Parser.parse(source) {
        case .success(let expr): Issue.record("expected a fault, got \(expr)")
        case .failure(let issue): #expect(issue.description == expected)
        }
    }
}
