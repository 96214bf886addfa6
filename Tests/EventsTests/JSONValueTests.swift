import Events
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("quote \" and \\ backslash", #""quote \" and \\ backslash""#),
        ("line\nfeed\r\ttab\u{08}\u{0C}", #""line\nfeed\r\ttab\b\f""#),
        ("nul \u{00} and \u{1F}", #""nul \u0000 and \u001f""#),
        ("separators \u{2028}\u{2029}", #""separators \u2028\u2029""#),
        ("é, ✓ and 🎉", "\"é, ✓ and 🎉\""),
        ("\u{2027}\u{202A} stay", "\"\u{2027}\u{202A} stay\""),
    ])
    func stringsAreEscapedExactly(_ input: String, _ expected: String) {
        #expect(JSONValue.string(input).serialized == expected)
    }

    @Test func everythingWrittenParsesBackToTheSameValue() throws {
        // Seeded: a failure names an input that the next run meets again.
        var rng = SampleEvents.RNG(seed: 2026)
        let alphabet: [Character] = ["a", "\"", "\\", "\n", "\u{0}", "\u{7F}", "é", "\u{2028}", "🎉", " ", "/", "\u{1B}"]
        for _ in 0..<500 {
            let s = String((0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let value = JSONValue.object([("k", .string(s)), ("n", .int(-42)), ("list", .array([.bool(true), .null, .double(1.5)]))])
            let parsed = try JSONSerialization.jsonObject(with: Data(value.serialized.utf8)) as? [String: Any]
            #expect(parsed?["k"] as? String == s)
            #expect(parsed?["n"] as? Int == -42)
        }
    }
}
