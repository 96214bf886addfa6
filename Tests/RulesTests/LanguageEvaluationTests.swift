import Events
import Testing
@testable import Rules

@Suite("Expression evaluation on events")
struct LanguageEvaluationTests {
    struct Case: Sendable, CustomStringConvertible {
        var source: String
        var event: Event
        var expected: Bool
        init(_ source: String, _ expected: Bool) { self.init(source, Fixtures.event(), expected) }
        init(_ source: String, _ event: Event, _ expected: Bool) {
            self.source = source
            self.event = event
            self.expected = expected
        }
        var description: String { "\(source) → \(expected)" }
    }

    static let share = Fixtures.event(.share, purpose: "marketing.advertising", recipient: "acme")
    static let withdrawal = Fixtures.event(.consent, actor: nil, role: nil, purpose: "marketing", categories: [], status: .withdrawn, source: "web")
    static let deleteAll = Fixtures.event(.delete, actor: nil, role: nil, purpose: nil, categories: [], deletesAll: true)
    static let ticketed = Fixtures.event(attributes: ["ticket": "T-1", "reason": "audit"])

    static let cases: [Case] = [
        // literals, not, and, or
        Case("true", true), Case("false", false), Case("not false", true),
        Case("true and false", false), Case("true or false", true), Case("not (true and not false)", false),
        // == and != on the event type and status (enum compares)
        Case(#"event.type == "access""#, true), Case(#"event.type == "share""#, false),
        Case(#"event.type != "share""#, true), Case(#"event.type == "share""#, share, true),
        Case(#"event.status == "withdrawn""#, withdrawal, true), Case(#"event.status == "granted""#, withdrawal, false),
        Case(#"event.status == "granted""#, false), Case(#"event.status != "granted""#, true),
        // symbol fields (interned compares), absent fields
        Case(#"event.actor == "alice""#, true), Case(#"event.actor == "bob""#, false), Case(#"event.actor != "bob""#, true),
        Case(#"event.role == "support""#, true), Case(#"event.recipient == "acme""#, share, true),
        Case(#"event.actor == "alice""#, withdrawal, false), Case(#"event.actor != "alice""#, withdrawal, true),
        Case(#"event.source == "web""#, withdrawal, true), Case(#"event.system == "crm""#, false),
        Case(#"event.system == "crm""#, Fixtures.event(system: "crm"), true),
        // plain string fields
        Case(#"event.subject == "cust-1""#, true), Case(#"event.id != "e-1""#, false),
        Case(#""cust-1" == event.subject"#, true),
        // field against field
        Case("event.actor == event.role", false), Case("event.actor != event.role", true),
        Case("event.actor == event.actor", true), Case("event.recipient == event.recipient", false),
        Case("event.recipient != event.actor", true),
        Case("event.actor == event.subject", Fixtures.event(subject: "alice"), true),
        // attributes and exists()
        Case(#"event.attributes.ticket == "T-1""#, ticketed, true), Case(#"event.attributes.ticket == "T-1""#, false),
        Case(#"event.attributes.ticket != "T-1""#, true), Case(#"event.attributes.ticket != "T-1""#, ticketed, false),
        Case("exists(event.attributes.ticket)", ticketed, true), Case("exists(event.attributes.ticket)", false),
        Case("not exists(event.attributes.ticket)", true), Case("exists(event.actor)", true),
        Case("exists(event.actor)", withdrawal, false), Case("exists(event.recipient)", share, true),
        Case("exists(event.purpose)", deleteAll, false), Case("exists(event.categories)", deleteAll, true),
        Case("exists(event.categories)", withdrawal, false), Case("exists(event.status)", withdrawal, true),
        Case("exists(event.subject)", true), Case("exists(event.source)", false), Case("exists(event.role)", true),
        Case("exists(event.system)", false),
        // in
        Case("event.recipient in list.disclosed", share, true),
        Case("event.recipient in list.disclosed", Fixtures.event(.share, recipient: "initech"), false),
        Case("event.recipient in list.disclosed", false),
        Case("event.recipient not in list.disclosed", true),
        Case(#"event.type in ["access", "use"]"#, true), Case(#"event.type in ["share", "use"]"#, false),
        Case(#"event.status in ["withdrawn"]"#, withdrawal, true), Case(#"event.status in ["granted"]"#, withdrawal, false),
        Case(#"event.status in ["withdrawn"]"#, false),
        Case(#"event.role in list.support_roles"#, true), Case(#"event.subject in ["cust-1", "cust-2"]"#, true),
        Case(#"event.attributes.reason in ["audit"]"#, ticketed, true), Case(#"event.attributes.reason in ["audit"]"#, false),
        Case(#"event.purpose in ["essential.service"]"#, true), Case(#"event.purpose in ["essential"]"#, false),
        Case(#"event.purpose in ["essential"]"#, deleteAll, false),
        Case(#""acme" in list.disclosed"#, true), Case(#""x" in []"#, false),
        Case("weekday(event.time) in [1, 2]", true), Case("hour(event.time) in [9, 11]", false),
        // under: purposes
        Case(#"event.purpose under "essential""#, true), Case(#"event.purpose under "essential.service""#, true),
        Case(#"event.purpose under "marketing""#, false), Case(#"event.purpose under "marketing""#, share, true),
        Case(#"event.purpose under ["analytics", "marketing"]"#, share, true),
        Case("event.purpose under list.marketing_uses", share, true),
        Case("event.purpose under list.marketing_uses", Fixtures.event(purpose: "analytics"), false),
        Case("event.purpose under list.marketing_uses", Fixtures.event(purpose: "analytics.reporting"), true),
        Case(#"event.purpose under "marketing""#, deleteAll, false),
        // interval edges: the first node after a subtree is not in it; the last node of a subtree is
        Case("event.purpose under list.marketing_uses", Fixtures.event(purpose: "essential"), false),
        Case(#"event.purpose under "marketing""#, Fixtures.event(purpose: "marketing.communications"), true),
        Case(#"event.categories under "system""#, Fixtures.event(categories: ["user"]), false),
        Case(#"event.categories under "system""#, Fixtures.event(categories: ["system.operations"]), true),
        Case(#"event.purpose under ["analytics.reporting", "analytics", "marketing"]"#, Fixtures.event(purpose: "essential"), false),
        Case(#"event.purpose not under "marketing""#, deleteAll, true),
        Case(#""marketing.advertising" under event.purpose"#, withdrawal, true),
        Case(#""marketing" under event.purpose"#, share, false),
        Case(#""marketing" under event.purpose"#, deleteAll, false),
        Case("event.purpose under event.purpose", true), Case("event.purpose under event.purpose", deleteAll, false),
        // under: categories, and a delete of "*"
        Case(#"event.categories under "user""#, true), Case(#"event.categories under "user.contact""#, true),
        Case(#"event.categories under "user.financial""#, false), Case(#"event.categories under "system""#, false),
        Case("event.categories under list.sensitive", false),
        Case("event.categories under list.sensitive", Fixtures.event(categories: ["system.operations", "user.contact.phone"]), true),
        Case(#"event.categories under ["system", "user.contact.email"]"#, true),
        Case(#"event.categories under "user""#, withdrawal, false),
        Case(#"event.categories under "system.operations""#, deleteAll, true),
        Case(#""user.contact.email" under event.categories"#, Fixtures.event(categories: ["user.contact"]), true),
        Case(#""user.contact" under event.categories"#, false),
        Case(#""system" under event.categories"#, deleteAll, true),
        Case("event.categories under event.categories", true), Case("event.categories under event.categories", withdrawal, false),
        // numbers: hour() and weekday() (2024-03-04 is a Monday; 10:30 UTC)
        Case("hour(event.time) == 10", true), Case("hour(event.time) < 10", false), Case("hour(event.time) <= 10", true),
        Case("hour(event.time) > 9", true), Case("hour(event.time) >= 11", false), Case("hour(event.time) != 10", false),
        Case("weekday(event.time) == 1", true), Case("9 < hour(event.time)", true), Case("10 > hour(event.time)", false),
        Case("weekday(event.time) >= 6", Fixtures.event(time: "2024-03-09T23:59:59Z"), true),
        Case("hour(event.time) == 23", Fixtures.event(time: "2024-03-10T01:00:00+02:00"), true),
        Case("weekday(event.time) == 6", Fixtures.event(time: "2024-03-10T01:00:00+02:00"), true),
        Case("hour(event.time) < weekday(event.time)", false),
        // times and durations
        Case(#"event.time >= "2024-03-04T10:30:00Z""#, true), Case(#"event.time > "2024-03-04T10:30:00Z""#, false),
        Case(#"event.time < "2024-03-04T12:00:00+01:00""#, true),
        Case(#"event.time < "2024-03-04T11:30:00+01:00""#, false), Case(#"event.time == "2024-03-04T11:30:00+01:00""#, true),
        Case(#""2024-01-01T00:00:00Z" < event.time"#, true), Case("event.time == event.time", true),
        Case("10m < 1h", true), Case("60m == 1h", true), Case("48h != 2d", false), Case("90s >= 2m", false),
        Case("1.5 < 2", true), Case(#""a" == "a""#, true), Case(#""a" != "a""#, false),
        // booleans compared
        Case(#"(event.type == "access") == true"#, true), Case(#"(event.type == "share") != false"#, false),
        Case(#"(event.actor == "alice") == (event.role == "support")"#, true),
        // the whole of a realistic rule
        Case(#"event.type == "share" and not event.recipient in list.disclosed"#, share, false),
        Case(#"event.type == "share" and not event.recipient in list.disclosed"#, Fixtures.event(.share, recipient: "initech"), true),
        Case(#"event.type in ["access", "use"] and event.categories under list.sensitive and not exists(event.attributes.ticket)"#,
             Fixtures.event(categories: ["user.financial.bank_account"]), true),
        Case(#"event.type in ["access", "use"] and (hour(event.time) < 7 or hour(event.time) >= 20 or weekday(event.time) >= 6)"#, false),
    ]

    @Test(arguments: cases)
    func evaluates(_ c: Case) throws {
        let program = try Fixtures.compile(c.source).get()
        #expect(program.test(c.event) == c.expected, "plan: \(program.planText)")
    }

    static let plans: [(String, String)] = [
        (#"event.type == "share" and not event.recipient in list.disclosed"#,
         "(and (type== share) (not (symbol-in event.recipient list.disclosed)))"),
        (#"event.actor != "alice""#, #"(symbol!= event.actor "alice")"#),
        (#"event.attributes.ticket == "T""#, #"(string== event.attributes.ticket "T")"#),
        (#"event.type in ["access", "use"]"#, #"(type-in event.type ["access" "use"])"#),
        (#"event.purpose under ["marketing", "marketing.advertising", "analytics"]"#, #"(purpose-under "analytics"[0,2) "marketing"[4,7))"#),
        (#"event.categories under list.sensitive"#, #"(categories-under "user.contact.phone"[5,6) "user.financial"[6,8))"#),
        (#""user.contact" under event.categories"#, #"(under "user.contact" event.categories)"#),
        ("hour(event.time) >= 20", "(number>= (hour event.time) 20)"),
        ("9 > hour(event.time)", "(number< (hour event.time) 9)"),
        (#"event.time < "2024-01-01T00:00:00+01:00""#, "(time< event.time 2023-12-31T23:00:00Z)"),
        ("exists(event.attributes.ticket) or false", "(exists event.attributes.ticket)"),
        ("10m < 1h", "(const true)"),
        (#"event.type == "share" and 1 > 2"#, "(const false)"),
        (#"not exists(event.subject)"#, "(const false)"),
    ]

    @Test(arguments: plans)
    func planText(source: String, expected: String) throws {
        #expect(try Fixtures.compile(source).get().planText == expected)
    }

    @Test func comparesInternedSymbols() throws {
        let program = try Fixtures.compile(#"event.actor == "someone-new-7f3a" or event.recipient in ["acme-7f3a"]"#).get()
        #expect(!program.test(Fixtures.event()))
        #expect(program.test(Fixtures.event(actor: "someone-new-7f3a")))
        #expect(program.test(Fixtures.event(.share, recipient: "acme-7f3a")))
        #expect(program.constantValue == nil)
    }
}
