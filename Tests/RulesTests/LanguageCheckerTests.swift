import Testing
@testable import Rules

@Suite("Expression checker: text in, typed text or faults out")
struct LanguageCheckerTests {
    static let typed: [(String, String)] = [
        (#"event.type == "share""#, #"(==:bool event.type:string "share":string)"#),
        (#"event.purpose under "marketing""#, #"(under:bool event.purpose:purpose "marketing":purpose)"#),
        (#""marketing" under event.purpose"#, #"(under:bool "marketing":purpose event.purpose:purpose)"#),
        ("event.categories under list.sensitive", "(under:bool event.categories:list<category> list.sensitive:list<category>)"),
        (#"event.categories under ["user.contact", "system"]"#,
         #"(under:bool event.categories:list<category> ["user.contact" "system"]:list<category>)"#),
        (#"event.purpose in ["marketing", "analytics"]"#, #"(in:bool event.purpose:purpose ["marketing" "analytics"]:list<purpose>)"#),
        (#"event.purpose == "essential""#, #"(==:bool event.purpose:purpose "essential":purpose)"#),
        ("event.recipient in list.disclosed", "(in:bool event.recipient:string list.disclosed:list<string>)"),
        ("not event.recipient in list.disclosed", "(not:bool (in:bool event.recipient:string list.disclosed:list<string>))"),
        ("hour(event.time) < 9", "(<:bool (hour():number event.time:time) 9:number)"),
        ("weekday(event.time) in [6, 7]", "(in:bool (weekday():number event.time:time) [6 7]:list<number>)"),
        ("exists(event.attributes.ticket)", "(exists():bool event.attributes.ticket:string)"),
        ("exists(event.actor) and event.attributes.reason != \"audit\"",
         #"(and:bool (exists():bool event.actor:string) (!=:bool event.attributes.reason:string "audit":string))"#),
        (#"event.time >= "2024-01-01T00:00:00Z""#, "(>=:bool event.time:time 2024-01-01T00:00:00Z:time)"),
        ("not (10m < 1h)", "(not:bool (<:bool 10m:duration 1h:duration))"),
        ("event.actor == event.subject", "(==:bool event.actor:string event.subject:string)"),
        (#"event.status == "withdrawn" or true"#, #"(or:bool (==:bool event.status:string "withdrawn":string) true:bool)"#),
        (#"(event.type in ["access", "use"]) == true"#, #"(==:bool (in:bool event.type:string ["access" "use"]:list<string>) true:bool)"#),
    ]

    @Test(arguments: typed)
    func typedText(source: String, expected: String) throws {
        let result = ExpressionCompiler.check(source, environment: Fixtures.environment)
        #expect(try result.get().description == expected)
    }

    static let faults: [(String, String)] = [
        (#"event.actr == "x""#, "1:1: unknown_field: unknown event field 'event.actr'; did you mean 'event.actor'?"),
        (#"actor == "x""#, "1:1: unknown_field: unknown name 'actor'; did you mean 'event.actor'?"),
        (#"who == "x""#, "1:1: unknown_field: unknown name 'who': name event fields as event.FIELD and lists as list.NAME"),
        (#"event.attributes == "x""#, "1:1: unknown_field: 'event.attributes' needs an attribute: event.attributes.KEY"),
        (#"event.type == "acess""#, #"1:15: unknown_value: event.type is never "acess"; did you mean "access"?"#),
        (#"event.status in ["granted", "revoked"]"#,
         #"1:29: unknown_value: event.status is never "revoked"; it is one of "granted", "withdrawn""#),
        ("event.actor in list.discloesd", "1:16: unknown_list: unknown list 'list.discloesd'; did you mean 'list.disclosed'?"),
        ("event.actor in list.foo",
         "1:16: unknown_list: unknown list 'list.foo'; the lists are list.disclosed, list.marketing_uses, list.mixed, list.sensitive, list.support_roles"),
        (#"event.purpose under "marketting""#,
         #"1:21: unknown_key: unknown key "marketting" in the data-use (purpose) taxonomy; did you mean "marketing"?"#),
        (#"event.categories under ["user.contact", "user.contct.email"]"#,
         #"1:41: unknown_key: unknown key "user.contct.email" in the data-category taxonomy; did you mean "user.contact.email"?"#),
        (#"event.purpose == "user""#, #"1:18: unknown_key: unknown key "user" in the data-use (purpose) taxonomy"#),
        ("event.purpose under list.mixed",
         #"1:21: unknown_key: list.mixed holds "nope", which is not a key of the data-use (purpose) taxonomy"#),
        ("event.purpose under event.categories",
         "1:15: type: 'under' relates keys of one taxonomy, but the left side is a purpose key and the right side a list of data-category keys"),
        (#""a" under "b""#, "1:5: type: 'under' needs event.purpose or event.categories on one side, to know which taxonomy the keys are from"),
        ("event.purpose under 3", "1:21: type: 'under' relates taxonomy keys, but this is a number"),
        ("event.actor == 3", "1:13: type: cannot compare a string with a number"),
        ("hour(event.time) == 10m", "1:18: type: cannot compare a number with a duration"),
        (#"event.actor < "m""#, "1:13: type: '<' orders numbers, durations and times; string values have no order"),
        (#"event.categories == "user""#,
         "1:1: type: '==' compares single values, but this is a list of data-category keys; test taxonomy keys with 'under'"),
        ("event.type", "1:1: type: an expression here must be true or false, but this is a string"),
        ("hour(event.time)", "1:1: type: an expression here must be true or false, but this is a number"),
        ("hour(event.actor) > 3", "1:6: type: hour() takes a time such as event.time, but this is a string"),
        ("hour(event.time, 1) > 3", "1:1: type: hour() takes one argument, not 2"),
        ("hours(event.time) > 3", "1:1: unknown_function: unknown function 'hours'; did you mean hour()?"),
        ("now() > 3", "1:1: unknown_function: unknown function 'now'; the functions are exists(), hour() and weekday()"),
        (#"exists("x")"#, "1:8: type: exists() takes an event field such as event.attributes.ticket"),
        (#"event.actor in "x""#, #"1:16: type: 'in' needs a list on its right (["a", "b"] or list.NAME), but this is a string"#),
        ("event.categories in list.sensitive",
         "1:1: type: 'in' tests one value, but this is a list of data-category keys; test taxonomy keys with 'under'"),
        ("hour(event.time) in list.disclosed", "1:18: type: 'in' looks for a number in a list of strings"),
        (#"event.time > "yesterday""#, #"1:14: type: "yesterday" is not a time; write RFC 3339 such as "2024-01-31T00:00:00Z""#),
        ("event.actor and true", "1:1: type: 'and' takes conditions (true or false), but this is a string"),
        ("not event.subject", "1:5: type: 'not' takes conditions (true or false), but this is a string"),
        (#"event.actor in ["a", 1]"#, "1:16: type: a list literal holds strings or numbers, not both"),
    ]

    @Test(arguments: faults)
    func fault(source: String, expected: String) {
        switch ExpressionCompiler.check(source, environment: Fixtures.environment) {
        case .success(let typed): Issue.record("expected a fault, got \(typed)")
        case .failure(let issues): #expect(issues.description == expected)
        }
    }

    @Test func collectsEveryFault() {
        let source = #"event.actr == "x" or list.nope in event.foo or event.type == "acess" or hour(event.time) == "9""#
        guard case .failure(let issues) = ExpressionCompiler.check(source, environment: Fixtures.environment) else {
            Issue.record("expected faults")
            return
        }
        #expect(issues.issues.map(\.code.rawValue) == ["unknown_field", "unknown_list", "unknown_field", "unknown_value", "type"])
        #expect(issues.issues.map(\.position.description) == ["1:1", "1:22", "1:35", "1:62", "1:90"])
    }
}
