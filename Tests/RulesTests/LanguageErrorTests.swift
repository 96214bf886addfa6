import Testing
@testable import Rules

/// The full error text an operator sees: `file:line:column: error: message`, the line and a caret.
@Suite("Expression errors: text in, located errors with carets out")
struct LanguageErrorTests {
    static let cases: [(String, String)] = [
        ("(event.actor == \"x\"", """
        rules/access.yaml:10:30: error: expected ')' to close the '(' at 1:1, found the end of the expression
            when: (event.actor == "x"
                                     ^
        """),
        ("event.actor == \"x\")", """
        rules/access.yaml:10:29: error: unexpected ')' after a complete expression; join conditions with 'and' or 'or'
            when: event.actor == "x")
                                    ^
        """),
        ("event.actr == \"x\"", """
        rules/access.yaml:10:11: error: unknown event field 'event.actr'; did you mean 'event.actor'?
            when: event.actr == "x"
                  ^
        """),
        ("event.recipient in list.discloed", """
        rules/access.yaml:10:30: error: unknown list 'list.discloed'; did you mean 'list.disclosed'?
            when: event.recipient in list.discloed
                                     ^
        """),
        ("event.categories under \"user.contact.emial\"", """
        rules/access.yaml:10:34: error: unknown key "user.contact.emial" in the data-category taxonomy; did you mean "user.contact.email"?
            when: event.categories under "user.contact.emial"
                                         ^
        """),
        ("event.actor == 3", """
        rules/access.yaml:10:23: error: cannot compare a string with a number
            when: event.actor == 3
                              ^
        """),
        ("event.type == \"share\" and event.actor", """
        rules/access.yaml:10:37: error: 'and' takes conditions (true or false), but this is a string
            when: event.type == "share" and event.actor
                                            ^
        """),
        ("event.time > 2x", """
        rules/access.yaml:10:24: error: invalid duration '2x': write a whole number and one unit of ms, s, m, h, d or w (90s, 10m, 48h, 30d)
            when: event.time > 2x
                               ^
        """),
        ("event.actor == \"alice", """
        rules/access.yaml:10:26: error: unterminated string: no closing " on this line
            when: event.actor == "alice
                                 ^
        """),
        ("event.type == \"share\"\nand event.purpose under \"marketting\"", """
        rules/access.yaml:11:31: error: unknown key "marketting" in the data-use (purpose) taxonomy; did you mean "marketing"?
              and event.purpose under "marketting"
                                      ^
        """),
        ("event.type == \"acess\" or\nevnt.actor == \"x\" or hour(event.time) > \"9\"", """
        rules/access.yaml:10:25: error: event.type is never "acess"; did you mean "access"?
            when: event.type == "acess" or
                                ^
        rules/access.yaml:11:7: error: unknown name 'evnt.actor': name event fields as event.FIELD and lists as list.NAME
              evnt.actor == "x" or hour(event.time) > "9"
              ^
        rules/access.yaml:11:45: error: cannot compare a number with a string
              evnt.actor == "x" or hour(event.time) > "9"
                                                    ^
        """),
    ]

    @Test(arguments: cases)
    func errorText(source: String, expected: String) {
        #expect(Fixtures.errorText(source) == expected)
    }

    @Test func codesAndLocations() throws {
        guard case .failure(let errors) = Fixtures.compile("event.foo == 1 and list.bar in [\"a\"]") else {
            Issue.record("expected errors")
            return
        }
        #expect(errors.errors.map(\.code) == [.unknownField, .unknownList])
        #expect(errors.errors.map { $0.location?.description } == ["rules/access.yaml:10:11", "rules/access.yaml:10:30"])
    }

    @Test func standaloneCompilePointsIntoTheSource() {
        guard case .failure(let errors) = ExpressionCompiler.compile("x ==", environment: Fixtures.environment, file: "filter") else {
            Issue.record("expected an error")
            return
        }
        #expect(errors.description == "filter:1:5: error: expected a value, a name or '(', found the end of the expression\nx ==\n    ^")
    }
}
