import Events
import Foundation
@testable import Rules
import Testing

/// Rule `message` templates: rendering, the pipeline's language, the checks of `rules check`, and the default
/// pipeline's templates on generated traffic (docs/rules.md, "Messages").
@Suite struct MessageTemplateTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func rules(_ yaml: String) throws(RuleErrors) -> [Rule] {
        try PipelineLoader().compileRules(yaml: yaml, file: "rules/r.yaml", environment: Fixtures.environment)
    }

    /// The faults of a rules file as `rules check` prints them.
    static func faults(_ yaml: String) -> String {
        do {
            _ = try rules(yaml)
            return "compiled"
        } catch {
            return error.description
        }
    }

    static func violation(
        kind: RuleKind, reason: String, actor: String? = nil, evidence: [(String, JSONValue)]
    ) -> Violation {
        Violation(
            id: "v-1", rule: "r", kind: kind, reason: reason, severity: .high, time: Timestamp(rfc3339: "2026-09-13T14:05:09Z")!,
            subject: "cust-7", actor: actor, event: "ev-1", detectedAt: Timestamp(rfc3339: "2026-03-02T00:00:00Z")!,
            message: "", evidence: .object(evidence))
    }

    /// The rule's message for `violation` in each language, en, es, de, fr.
    static func rendered(_ rule: Rule, _ violation: Violation) -> [String] {
        MessageLanguage.allCases.map { rule.message?.template(reason: violation.reason, language: $0)?.render(violation) ?? "-" }
    }

    static let deadlineRule = """
        - rule: r
          kind: deadline
          severity: high
          start: event.type == "erasure_request"
          satisfied_by: event.type == "delete"
          within: 30d

        """

    @Test func datesAndTimesInEveryLanguage() {
        let t = Timestamp(rfc3339: "2026-09-13T14:05:59.500Z")!
        #expect(MessageLanguage.allCases.map { $0.date(t) } == ["13 Sep 2026", "13 sept 2026", "13. Sept. 2026", "13 sept. 2026"])
        #expect(MessageLanguage.allCases.map { $0.time(t) } == [
            "13 Sep 2026, 14:05 UTC", "13 sept 2026, 14:05 UTC", "13. Sept. 2026, 14:05 UTC", "13 sept. 2026, 14:05 UTC",
        ])
        let march = Timestamp(rfc3339: "2027-03-01T07:09:00Z")!
        #expect(MessageLanguage.allCases.map { $0.time(march) } == [
            "1 Mar 2027, 07:09 UTC", "1 mar 2027, 07:09 UTC", "1. März 2027, 07:09 UTC", "1 mars 2027, 07:09 UTC",
        ])
        for language in MessageLanguage.allCases {
            let months = (1...12).map { language.date(Timestamp(rfc3339: "2026-\($0 < 10 ? "0" : "")\($0)-15T12:00:00Z")!) }
            #expect(Set(months).count == 12 && months.allSatisfy { $0.hasPrefix("15") && $0.hasSuffix(" 2026") }, "\(months)")
        }
    }

    @Test func theViolationsOwnFieldsAndTimeFilters() throws {
        let rule = try #require(try Self.rules(Self.deadlineRule + """
              message: "{{{rule}}} {kind}/{reason}/{severity} {id}: {subject} by {actor|or:nobody} at {time}, {time|date}, {detected_at|time}; {event}"

            """).first)
        let v = Self.violation(kind: .deadline, reason: "overdue", evidence: [])
        #expect(Self.rendered(rule, v) == [
            "{r} deadline/overdue/high v-1: cust-7 by nobody at 2026-09-13T14:05:09Z, 13 Sep 2026, 2 Mar 2026, 00:00 UTC; ev-1",
            "{r} deadline/overdue/high v-1: cust-7 by nobody at 2026-09-13T14:05:09Z, 13 sept 2026, 2 mar 2026, 00:00 UTC; ev-1",
            "{r} deadline/overdue/high v-1: cust-7 by nobody at 2026-09-13T14:05:09Z, 13. Sept. 2026, 2. März 2026, 00:00 UTC; ev-1",
            "{r} deadline/overdue/high v-1: cust-7 by nobody at 2026-09-13T14:05:09Z, 13 sept. 2026, 2 mars 2026, 00:00 UTC; ev-1",
        ])
        var withActor = v
        withActor.actor = "ana"
        #expect(Self.rendered(rule, withActor)[0].contains("cust-7 by ana at"))
    }

    @Test func evidenceOfEveryShape() throws {
        let rules = try Self.rules("""
            - rule: r
              kind: retention
              severity: medium
              categories: [user.contact]
              keep: 30d
              message:
                overdue: "{clock.category} kept {keep} from {from}, collected {clock.collected_at|date} by {clock.collected_by}, {clock.deadline_set_by|or:no end}"
                expired_access:
                  en: "{type} of {categories} by {role|or:no role} ({attributes.ticket.v2|or:no ticket}): {expired.category} due {expired.deadline|date}"
                  de: "{type} von {categories}: {expired.category} fällig am {expired.deadline|time}"
            - rule: t
              kind: threshold
              severity: high
              when: event.type == "access"
              group_by: [actor, attributes.ticket]
              window: 10m
              limit: 2
              message: "{group.actor} and {group.attributes.ticket}: {count} > {limit} in {window} from {window_start|time} to {window_end|time}"

            """)
        let overdue = Self.violation(kind: .retention, reason: "overdue", evidence: [
            ("clock", .object([("category", "user.contact.email"), ("collected_by", "c-1"), ("collected_at", "2026-08-14T10:00:00Z"),
                               ("deadline", "2026-09-13T10:00:00Z")])),
            ("keep", "30d"), ("from", "collect"),
        ])
        #expect(Self.rendered(rules[0], overdue)[0] == "user.contact.email kept 30d from collect, collected 14 Aug 2026 by c-1, no end")
        #expect(Self.rendered(rules[0], overdue)[3] == "user.contact.email kept 30d from collect, collected 14 août 2026 by c-1, no end")
        let expired = Self.violation(kind: .retention, reason: "expired_access", actor: "bob", evidence: [
            ("type", "access"), ("categories", ["user.contact.email", "user.contact.phone"]),
            ("attributes", .object([("ticket.v2", "T-9")])),
            ("expired", .array([
                .object([("category", "user.contact.email"), ("deadline", "2026-09-01T00:00:00Z")]),
                .object([("category", "user.contact.phone"), ("deadline", "2026-09-02T00:00:00Z")]),
            ])),
        ])
        #expect(Self.rendered(rules[0], expired) == [
            "access of user.contact.email, user.contact.phone by no role (T-9): user.contact.email, user.contact.phone due 1 Sep 2026, 2 Sep 2026",
            // No Spanish or French: English.
            "access of user.contact.email, user.contact.phone by no role (T-9): user.contact.email, user.contact.phone due 1 Sep 2026, 2 Sep 2026",
            "access von user.contact.email, user.contact.phone: user.contact.email, user.contact.phone fällig am 1. Sept. 2026, 00:00 UTC, 2. Sept. 2026, 00:00 UTC",
            "access of user.contact.email, user.contact.phone by no role (T-9): user.contact.email, user.contact.phone due 1 Sep 2026, 2 Sep 2026",
        ])
        let crossed = Self.violation(kind: .threshold, reason: "limit_exceeded", evidence: [
            ("group", .object([("actor", "bob"), ("attributes.ticket", "T-1")])),
            ("window_start", "2026-09-13T14:00:00Z"), ("window_end", "2026-09-13T14:10:00Z"), ("window", "10m"),
            ("limit", .int(2)), ("count", .int(3)),
        ])
        #expect(Self.rendered(rules[1], crossed)[2] == "bob and T-1: 3 > 2 in 10m from 13. Sept. 2026, 14:00 UTC to 13. Sept. 2026, 14:10 UTC")
    }

    @Test func aMessagePerReason() throws {
        let rule = try #require(try Self.rules("""
            - rule: c
              kind: consent
              severity: high
              when: event.type == "use"
              message:
                no_consent: "{subject} never agreed to {purpose}"
                consent_withdrawn:
                  en: "{subject} withdrew {decision.purpose} on {decision.time|date} ({decision.source|or:no source}; grace {grace})"
                  es: "{subject} retiró {decision.purpose} el {decision.time|date}"

            """).first)
        let none = Self.violation(kind: .consent, reason: "no_consent", evidence: [("type", "use"), ("purpose", "marketing")])
        #expect(Self.rendered(rule, none) == Array(repeating: "cust-7 never agreed to marketing", count: 4))
        let withdrawn = Self.violation(kind: .consent, reason: "consent_withdrawn", evidence: [
            ("type", "use"), ("purpose", "marketing"),
            ("decision", .object([("event", "e-0"), ("time", "2026-01-05T09:00:00Z"), ("purpose", "marketing"), ("status", "withdrawn")])),
            ("grace", "2d"),
        ])
        #expect(Self.rendered(rule, withdrawn) == [
            "cust-7 withdrew marketing on 5 Jan 2026 (no source; grace 2d)", "cust-7 retiró marketing el 5 ene 2026",
            "cust-7 withdrew marketing on 5 Jan 2026 (no source; grace 2d)", "cust-7 withdrew marketing on 5 Jan 2026 (no source; grace 2d)",
        ])
    }

    /// The engine renders in the pipeline's `language:`: that language's template, else English's, else its own
    /// sentence, which a rule without a message keeps byte for byte.
    @Test func theEngineWritesInThePipelinesLanguage() throws {
        let rules = try Self.rules(["plain", "mapped", "french", "german"].map { id in
            Self.deadlineRule.replacingOccurrences(of: "rule: r", with: "rule: \(id)") + [
                "plain": "",
                "mapped": "  message: { en: \"EN {subject} {deadline|date}\", de: \"DE {subject}\" }\n",
                "french": "  message: { fr: \"{subject} devait être servi avant le {deadline|time}.\" }\n",
                "german": "  message: { de: \"DE {subject}\" }\n",
            ][id]!
        }.joined())
        func messages(_ language: String?) -> [String: String] {
            var settings: [String: PipelineValue] = [:]
            if let language { settings["language"] = .scalar(language, SourceLocation(file: "pipeline.yaml", line: 1, column: 11)) }
            let engine = Engine(pipeline: Pipeline(name: "p", directory: "/tmp", taxonomy: Fixtures.taxonomy, rules: rules, settings: settings))
            var request = Fixtures.event(.erasureRequest, time: "2026-01-01T10:00:00Z", subject: "cust-1", actor: nil, role: nil, purpose: nil, categories: [])
            request.id = "r-1"
            engine.offer(request)
            engine.finish(until: Timestamp(rfc3339: "2026-03-01T00:00:00Z")!)
            return Dictionary(uniqueKeysWithValues: engine.drainViolations().map { ($0.rule, $0.message) })
        }
        let builtIn = "Event r-1 at 2026-01-01T10:00:00Z had to be followed within 30d (by 2026-01-31T10:00:00Z) and was not."
        #expect(messages(nil) == [
            "plain": builtIn, "mapped": "EN cust-1 31 Jan 2026", "french": builtIn, "german": builtIn,
        ])
        #expect(messages("fr") == [
            "plain": builtIn, "mapped": "EN cust-1 31 Jan 2026", "french": "cust-1 devait être servi avant le 31 janv. 2026, 10:00 UTC.",
            "german": builtIn,
        ])
        #expect(messages("de") == ["plain": builtIn, "mapped": "DE cust-1", "french": builtIn, "german": "DE cust-1"])
    }

    @Test func faultsInTemplatesHaveTheirPlaceAndACaret() {
        let text = Self.faults(Self.deadlineRule + """
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
            - rule: m
              kind: match
              severity: low
              when: event.type == "use"
              message: >-
                a } b {evidence.type}
                and {subject
            - rule: c
              kind: consent
              severity: high
              when: event.type == "use"
              message:
                en: "{subject} withdrew on {decision.time|date} {time|or}{purpose|}"
                it: "{subject}"

            """)
        #expect(text == """
            rules/r.yaml:7:14: error: 'subjet' is not a field of this rule's violations; did you mean 'subject'?
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
                         ^
            rules/r.yaml:7:43: error: unknown filter 'dat'; the filters are date, time and or:TEXT; did you mean 'date'?
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
                                                      ^
            rules/r.yaml:7:50: error: 'actor' is not in every one of this rule's violations: give it a text to show instead, as in {actor|or:…}
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
                                                             ^
            rules/r.yaml:7:72: error: a field takes one of the filters date and time
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
                                                                                   ^
            rules/r.yaml:7:83: error: 'key' is not a time: the filter date formats times, such as time or detected_at
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
                                                                                              ^
            rules/r.yaml:7:90: error: 'clock' is not a field of this rule's violations (its fields: actor, deadline, detected_at, event, id, key, kind, reason, rule, severity, started_at, started_by, subject, time, within)
              message: "{subjet} asked on {started_at|dat}; {actor} {deadline|date|time} {key|date} {clock}"
                                                                                                     ^
            rules/r.yaml:13:7: error: '}' has no '{' before it; write }} for a brace itself
                a } b {evidence.type}
                  ^
            rules/r.yaml:13:12: error: the evidence's keys are named without 'evidence.': write {type}
                a } b {evidence.type}
                       ^
            rules/r.yaml:14:9: error: '{' has no '}' to close it; write {{ for a brace itself
                and {subject
                    ^
            rules/r.yaml:20:33: error: 'decision.time' is only in this rule's consent_withdrawn violations: give it a text to show instead, as in {decision.time|or:…}, or write a message for each reason
                en: "{subject} withdrew on {decision.time|date} {time|or}{purpose|}"
                                            ^
            rules/r.yaml:20:59: error: the filter or needs the text to show instead, as in or:someone
                en: "{subject} withdrew on {decision.time|date} {time|or}{purpose|}"
                                                                      ^
            rules/r.yaml:20:71: error: '|' is followed by no filter
                en: "{subject} withdrew on {decision.time|date} {time|or}{purpose|}"
                                                                                  ^
            rules/r.yaml:21:5: error: unknown language 'it' in message; the languages are en, es, de, fr
                it: "{subject}"
                ^
            """)
    }

    @Test func faultsInMessagesPerReason() {
        let text = Self.faults("""
            - rule: a
              kind: access
              severity: high
              when: event.type == "access"
              roles: { support: { purposes: [essential], categories: [user] } }
              message:
                unknown_role: "{actor|or:someone} has no role we know"
                purpose_not_alowed: "{role} may not"
                en: "x"

            """)
        #expect(text == """
            rules/r.yaml:6:3: error: message has no sentence for purpose_not_allowed, category_not_allowed: give one for each of the rule's reasons (unknown_role, purpose_not_allowed, category_not_allowed), or one for all
              message:
              ^
            rules/r.yaml:8:5: error: 'purpose_not_alowed' is not a reason of this rule (unknown_role, purpose_not_allowed, category_not_allowed): a message maps either languages or the rule's reasons; did you mean 'purpose_not_allowed'?
                purpose_not_alowed: "{role} may not"
                ^
            rules/r.yaml:9:5: error: 'en' is not a reason of this rule (unknown_role, purpose_not_allowed, category_not_allowed): a message maps either languages or the rule's reasons
                en: "x"
                ^
            """)
    }

    @Test func anObjectOfTheEvidenceIsNamedByItsFields() {
        do {
            _ = try Self.rules("""
                - rule: r
                  kind: retention
                  severity: low
                  categories: [user]
                  keep: 30d
                  message: "{clock} {attributes} {message}"

                """)
            Issue.record("compiled")
        } catch {
            #expect(error.errors.map(\.message) == [
                "'clock' holds several fields: name one of clock.category, clock.collected_at, clock.collected_by, clock.deadline, clock.deadline_set_by",
                "'attributes' holds the event's attributes: name one, as in {attributes.ticket|or:…}",
                "a message cannot name the message itself",
            ])
        }
    }

    @Test func theDefaultPipelineHasEveryRuleInEveryLanguage() throws {
        let pipeline = try PipelineLoader().load(directory: Self.root.appendingPathComponent("pipelines/default").path)
        #expect(pipeline.language == .en)
        for rule in pipeline.rules {
            let message = try #require(rule.message, "\(rule.id) has no message")
            for reason in ViolationFields.reasons(of: rule.spec) {
                let translations = message.byReason[reason] ?? message.all
                #expect(Set(translations.keys) == Set(MessageLanguage.allCases), "\(rule.id) \(reason)")
            }
        }
    }

    /// Generated traffic through the default pipeline, replayed well past its last event so that every deadline falls:
    /// each violation's message is its rule's template in the pipeline's language, with every field there.
    @Test(arguments: MessageLanguage.allCases)
    func theDefaultPipelinesMessagesOnGeneratedTraffic(_ language: MessageLanguage) throws {
        var pipeline = try PipelineLoader().load(directory: Self.root.appendingPathComponent("pipelines/default").path)
        pipeline.settings["language"] = .scalar(language.rawValue, SourceLocation(file: "pipeline.yaml", line: 1, column: 11))
        let engine = Engine(pipeline: pipeline)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        let options = EventGenerator.Options(events: 12_000, subjects: 200, seed: 5, months: 2, bulkExportEvery: 4_000,
                                             bulkExportWindow: .minutes(10))
        for line in EventGenerator(options) {
            if case .success(let event) = decoder.decode(line) { engine.offer(event) }
        }
        engine.finish(until: Timestamp(rfc3339: "2036-01-01T00:00:00Z")!)
        let rules = Dictionary(uniqueKeysWithValues: pipeline.rules.map { ($0.id, $0) })
        var seen: [String: Int] = [:]
        for v in engine.drainViolations() {
            seen["\(v.rule) \(v.reason)", default: 0] += 1
            let template = try #require(rules[v.rule]?.message?.template(reason: v.reason, language: language))
            #expect(template.language == language)
            #expect(v.message == template.render(v))
            for case let .field(source, format, nil) in template.segments {
                #expect(template.value(source, format, of: v)?.isEmpty == false, "\(source) missing in \(v)")
            }
            #expect(!v.message.contains("{") && !v.message.contains("}") && !v.message.contains("  "), "\(v.message)")
        }
        // The one-year and seven-year retention rules see no use of expired data in two months of traffic.
        let unreachable: Set = ["retention-behavior expired_access", "retention-financial expired_access"]
        for rule in pipeline.rules {
            for reason in ViolationFields.reasons(of: rule.spec) where !unreachable.contains("\(rule.id) \(reason)") {
                #expect(seen["\(rule.id) \(reason)", default: 0] > 0, "no \(rule.id) \(reason) in \(seen)")
            }
        }
    }

    /// An evidence key matches a path as characters do, whether the bytes are compared (ASCII) or the characters.
    @Test(arguments: [
        ("attributes.ticket", "attributes"), ("attributes", "attributes.ticket"), ("clock.category", "clock"),
        ("ab\r\nc", "ab\r"), ("ab\r\nc", "ab"), ("caf\u{E9}.x", "cafe\u{301}"), ("cafe\u{301}.x", "cafe"),
        ("e\u{301}x", "e"), ("x.y", "x.y"), ("x.y", ""), ("", "x"),
    ])
    func evidenceKeysMatchPathsAsCharacters(path: String, key: String) {
        let expected = path.hasPrefix(key) ? path.dropFirst(key.count) : nil
        #expect(MessageTemplate.remainder(of: path[...], after: key) == expected)
    }
}
