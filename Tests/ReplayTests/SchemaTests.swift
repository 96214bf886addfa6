import Digests
import Events
import Foundation
import Replay
import Rules
import Testing

/// The JSON Schemas of `docs/schemas/` against real outputs: a replay's violations, dead letters and digests, the
/// generator's events and the default pipeline's sample events. (The webhook body is checked in
/// `Tests/AlertsTests/WebhookSchemaTests.swift`, where `Alerts` can be imported.)
@Suite struct SchemaTests {
    static let names = ["event", "violation", "dead-letter", "subject-digest", "org-digest", "webhook", "audit"]

    // MARK: The schemas themselves

    @Test func theFolderHoldsTheSixSchemas() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: SchemaValidator.folder.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == Self.names.map { "\($0).schema.json" }.sorted())
    }

    @Test(arguments: names) func aSchemaIsWellFormedAndDescribesEveryProperty(name: String) throws {
        let schema = try SchemaValidator(named: name)
        #expect(schema.root["$id"] == .string(SchemaValidator.base + name + ".schema.json"))
        #expect(schema.root["title"]?.stringValue?.isEmpty == false)
        #expect(schema.root["description"]?.stringValue?.isEmpty == false)
        var undescribed: [String] = []
        func visit(_ node: SchemaJSON, _ path: String) {
            switch node {
            case .object(let pairs):
                for (key, value) in pairs {
                    if key == "properties", case .object(let properties) = value {
                        for (property, sub) in properties where sub["description"] == nil {
                            // A property of an `if` or a `then` only narrows one described at the top.
                            if !path.contains("/if") && !path.contains("/then") && !path.contains("/else") {
                                undescribed.append("\(path)/properties/\(property)")
                            }
                        }
                    }
                    visit(value, path + "/" + key)
                }
            case .array(let items):
                for (i, item) in items.enumerated() { visit(item, "\(path)/\(i)") }
            default: break
            }
        }
        visit(schema.root, "#")
        #expect(undescribed.isEmpty, "properties without a description: \(undescribed)")
        // Strict where Consentinel writes the document: every object of an output has additionalProperties false.
        if name != "event" {
            #expect(schema.root["additionalProperties"] == .bool(false))
        }
    }

    /// The webhook's sample is a violation: its definition there is violation.schema.json's, except that redaction
    /// may leave out the subject and the evidence.
    @Test func theWebhookSampleIsTheViolationSchema() throws {
        let violation = try SchemaValidator(named: "violation").root
        let webhook = try SchemaValidator(named: "webhook").root
        let sample = try #require(webhook["$defs"]?["violation"])
        #expect(sample["properties"] == violation["properties"])
        #expect(sample["additionalProperties"] == violation["additionalProperties"])
        let required = violation["required"].flatMap { r -> [String]? in
            guard case .array(let items) = r else { return nil }
            return items.compactMap(\.stringValue).filter { $0 != "subject" && $0 != "evidence" }
        }
        #expect(sample["required"] == required.map { SchemaJSON.array($0.map(SchemaJSON.string)) })
        #expect(webhook["$defs"]?["timestamp"] == violation["$defs"]?["timestamp"])
    }

    // MARK: Real outputs

    /// Two months of generated traffic (bulk exports, broken lines) plus hand-made broken lines of every reason,
    /// replayed through the default pipeline until both months are closed: every violation, dead letter, subject
    /// digest line and org.json matches its schema.
    @Test func aReplaysOutputsMatchTheirSchemas() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let generated = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(Array(EventGenerator(.init(
            events: 20_000, subjects: 300, seed: 31, months: 2, invalidRate: 0.01, bulkExportEvery: 8_000,
            bulkExportWindow: .minutes(10)))), to: generated)
        let broken = dir.appendingPathComponent("broken.jsonl")
        try Fixtures.write([
            #"{"id": 7, "type": "access"}"#,
            #"{"id":"x1","type":"use","time":"2026-01-02T00:00:00Z","subject":"s","actor":"a","purpose":"nope","categories":["user.name"]}"#,
            #"{"id":"","type":"collect","time":"2026-01-02T00:00:00Z","subject":"s","categories":["user.name"]}"#,
            #"{"id":"x2","type":"collect","time":"2026-01-02T00:00:00Z","subject":"s"}"#,
            "[1, 2]",
            #"{"id":"x3","type":"teleport","time":"2026-01-02T00:00:00Z","subject":"s","pad":""#
                + String(repeating: "é", count: 40_000) + "\"}",
            "\u{FEFF}not json \u{1F680}",
        ], to: broken)
        let out = try Fixtures.replay([generated, broken], in: dir, until: "2026-03-01T00:00:00Z", digests: true)

        let violation = try SchemaValidator(named: "violation")
        let violations = lines(out.violations)
        #expect(violations.count > 500)
        try expectValid(violations, violation, "violation")
        let kinds = Set(violations.compactMap { try? JSONValue.parse($0)["kind"] })
        #expect(kinds == Set(RuleKind.allCases.map { JSONValue.string($0.rawValue) }), "kinds seen: \(kinds)")

        let deadLetter = try SchemaValidator(named: "dead-letter")
        let dead = lines(out.dead)
        try expectValid(dead, deadLetter, "dead letter")
        let reasons = Set(dead.compactMap { try? JSONValue.parse($0)["reason"] })
        #expect(reasons == Set(DeadLetterReason.all.map { JSONValue.string($0.rawValue) }), "reasons seen: \(reasons)")
        #expect(dead.contains { $0.utf8.count > DeadLetter.rawLimit }, "a line longer than 64 KiB is cut")

        let subject = try SchemaValidator(named: "subject-digest")
        let org = try SchemaValidator(named: "org-digest")
        for month in ["2026-01", "2026-02"] {
            let folder = dir.appendingPathComponent("out-digests/\(month)")
            let subjects = lines(try String(contentsOf: folder.appendingPathComponent("subjects.jsonl"), encoding: .utf8))
            #expect(subjects.count > 250)
            try expectValid(subjects, subject, "\(month) subject digest")
            #expect(subjects.contains { $0.contains(#""shares":[{"#) } && subjects.contains { $0.contains(#""deletions":[{"#) })
            let orgText = try String(contentsOf: folder.appendingPathComponent("org.json"), encoding: .utf8)
            #expect(org.errors(json: orgText) == [], "\(month)/org.json")
            let erasure = try OrgDigest(jsonText: orgText).erasure
            #expect(erasure.open > 0 && erasure.completedOnTime + erasure.completedLate == erasure.completed, "\(month): \(erasure)")
        }
        let audit = try SchemaValidator(named: "audit")
        let second = try DigestArchive(directory: dir.appendingPathComponent("out-digests").path).audit(month: "2026-02")
        #expect(second.previousMonth == "2026-01" && !second.worse.isEmpty)
        #expect(audit.errors(json: second.json.serialized) == [], "the audit of 2026-02")
    }

    /// A dead letter from Kafka carries topic, partition and offset.
    @Test func aKafkaDeadLetterMatchesTheSchema() throws {
        let schema = try SchemaValidator(named: "dead-letter")
        let raw = Array(#"{"id":"e1","type":"teleport"}"#.utf8)
        let letter = raw.withUnsafeBytes { bytes in
            DeadLetter(reason: DeadLetterReason.unknownType.rawValue, error: "The type 'teleport' is not an event type.",
                       origin: .kafka(topic: "privacy.events", partition: 3, offset: 1_234_567), raw: bytes)
        }
        #expect(schema.errors(json: letter.json.serialized) == [])
    }

    /// Every event the generator makes that the decoder accepts matches the event schema, and so does its
    /// re-serialization (`Event.json`); every broken one it makes is rejected by the schema unless only the taxonomy
    /// (which the schema cannot know) could tell.
    @Test func generatedEventsMatchTheEventSchema() throws {
        let schema = try SchemaValidator(named: "event")
        let decoder = EventDecoder(taxonomy: try Taxonomy.builtin())
        var valid = 0
        var invalid = 0
        for line in EventGenerator(.init(events: 6_000, subjects: 200, seed: 3, months: 2, invalidRate: 0.02,
                                         bulkExportEvery: 2_000)) {
            switch decoder.decode(line) {
            case .success(let event):
                valid += 1
                #expect(schema.errors(json: line) == [], "\(line)")
                #expect(schema.errors(json: event.json.serialized) == [], "\(event.json.serialized)")
            case .failure(let error):
                invalid += 1
                if error.reason != .unknownCategory && error.reason != .unknownPurpose {
                    #expect(!schema.isValid(json: line), "\(error.reason): \(line)")
                }
            }
        }
        #expect(valid > 5_000 && invalid > 50)
        // SampleEvents (benchmarks, the differential test): unknown fields, offsets, fractions, escapes.
        var sample = SampleEvents(taxonomy: try Taxonomy.builtin(), seed: 17)
        for _ in 0..<3_000 {
            let line = sample.next()
            guard case .success = decoder.decode(line) else {
                Issue.record("SampleEvents made an invalid event: \(line)")
                continue
            }
            #expect(schema.errors(json: line) == [], "\(line)")
        }
    }

    /// The sample events of the default pipeline's own test cases.
    @Test func thePipelinesSampleEventsMatchTheEventSchema() throws {
        let schema = try SchemaValidator(named: "event")
        let decoder = EventDecoder(taxonomy: try Taxonomy.builtin())
        let folder = Fixtures.defaultPipeline + "/tests"
        var count = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
            let path = "\(folder)/\(name)/events.jsonl"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            for line in lines(try String(contentsOfFile: path, encoding: .utf8)) {
                count += 1
                if case .success = decoder.decode(line) {
                    #expect(schema.errors(json: line) == [], "\(name): \(line)")
                } else {
                    #expect(!schema.isValid(json: line), "\(name): an invalid event the schema accepts: \(line)")
                }
            }
        }
        #expect(count > 100)
    }

    /// The schema and the decoder agree on the edges of the contract.
    @Test(arguments: [
        #"{"id":"e","type":"collect","time":"2026-01-01 10:00:00.123456789+02:00","subject":"s","categories":["user.name"]}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01t10:00:00z","subject":"s","categories":["user.name"],"actor":null}"#,
        #"{"id":"e","type":"consent","time":"2026-01-01T10:00:00Z","subject":"s","purpose":"marketing","status":"granted","categories":[]}"#,
        #"{"id":"e","type":"access","time":"2026-01-01T10:00:00Z","subject":"s","actor":null,"role":"support","purpose":"marketing","categories":["user.name"]}"#,
        #"{"id":"e","type":"use","time":"2026-01-01T10:00:00Z","subject":"s","actor":"a","purpose":"marketing","categories":[]}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00:00Z","subject":"s","categories":["user.name"],"status":"maybe"}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00:00Z","subject":"","categories":["user.name"]}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00:00Z","subject":"s","categories":["user.name"],"attributes":{"a":1}}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00:00Z","subject":"s","categories":["user.name"],"attributes":{"":""}}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T24:00:00Z","subject":"s","categories":["user.name"]}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00:00+24:00","subject":"s","categories":["user.name"]}"#,
        #"{"id":"e","type":"collect","time":"2026-06-30T23:59:60Z","subject":"s","categories":["user.name"]}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00Z","subject":"s","categories":["user.name"]}"#,
        #"{"id":"e","type":"ACCESS","time":"2026-01-01T10:00:00Z","subject":"s"}"#,
        #"{"id":"e","type":"delete","time":"2026-01-01T10:00:00Z","subject":"s","categories":["*","user.name"]}"#,
        #"{"id":"e","type":"access","time":"2026-01-01T10:00:00Z","subject":"s","actor":"a","role":"r","purpose":"marketing","categories":["*"]}"#,
        #"{"id":"e","type":"erasure_request","time":"2026-01-01T10:00:00Z","subject":"s","x":{"y":[1,null,2.5e3]}}"#,
        #"{"id":"e","type":"consent","time":"2026-01-01T10:00:00Z","subject":"s","purpose":"marketing","status":"withdrawn","source":""}"#,
        #"{"id":"e","type":"collect","time":"2026-01-01T10:00:00Z","subject":"s","categories":"user.name"}"#,
        #"{"id":"e","type":"share","time":"2026-01-01T10:00:00Z","subject":"s","actor":"a","purpose":"marketing","categories":["user.name"]}"#,
        #"{"id":"e","type":"relationship_end","time":"2026-01-01T10:00:00Z","subject":"s","system":""}"#,
        #"{"type":"relationship_end","time":"2026-01-01T10:00:00Z","subject":"s"}"#,
        "{\"id\":\"\(String(repeating: "é", count: 128))\",\"type\":\"relationship_end\",\"time\":\"2026-01-01T10:00:00Z\",\"subject\":\"s\"}",
        "{\"id\":\"\(String(repeating: "x", count: 129))\",\"type\":\"relationship_end\",\"time\":\"2026-01-01T10:00:00Z\",\"subject\":\"s\"}",
        "{\"id\":\"e\",\"type\":\"relationship_end\",\"time\":\"2026-01-01T10:00:00Z\",\"subject\":\"\(String(repeating: "🚀", count: 256))\"}",
        "{\"id\":\"e\",\"type\":\"relationship_end\",\"time\":\"2026-01-01T10:00:00Z\",\"subject\":\"\(String(repeating: "s", count: 257))\"}",
    ])
    func theEventSchemaAgreesWithTheDecoder(line: String) throws {
        let schema = try SchemaValidator(named: "event")
        let decoded = EventDecoder(taxonomy: try Taxonomy.builtin()).decode(line)
        let accepted: Bool
        if case .success = decoded { accepted = true } else { accepted = false }
        #expect(schema.isValid(json: line) == accepted, "decoder: \(decoded); schema: \(schema.errors(json: line))")
    }

    // MARK: What the schemas reject

    static let aViolation = #"""
        {"id":"0123456789abcdef0123456789abcdef","rule":"role-access","kind":"access","reason":"category_not_allowed",
         "severity":"high","time":"2026-01-05T09:01:00Z","subject":"ana","actor":"alice","event":"a2",
         "detected_at":"2026-01-05T09:01:00Z","message":"alice (role support) accessed user.financial of ana.",
         "evidence":{"type":"access","role":"support"}}
        """#

    @Test func aViolationWithoutItsRuleIsRejected() throws {
        let schema = try SchemaValidator(named: "violation")
        #expect(schema.errors(json: Self.aViolation) == [])
        let withoutRule = Self.aViolation.replacingOccurrences(of: #""rule":"role-access","#, with: "")
        #expect(schema.errors(json: withoutRule) == ["/: the required property 'rule' is missing"])
        let extra = Self.aViolation.replacingOccurrences(of: #""event":"a2","#, with: #""event":"a2","score":3,"#)
        #expect(schema.errors(json: extra) == ["/: the property 'score' is not allowed"])
        let badKind = Self.aViolation.replacingOccurrences(of: #""kind":"access""#, with: #""kind":"audit""#)
        #expect(!schema.isValid(json: badKind))
        let localTime = Self.aViolation.replacingOccurrences(of: #""time":"2026-01-05T09:01:00Z""#,
                                                             with: #""time":"2026-01-05T10:01:00+01:00""#)
        #expect(schema.errors(json: localTime).count == 1)
    }

    @Test func aDeadLetterWithAnUnknownReasonIsRejected() throws {
        let schema = try SchemaValidator(named: "dead-letter")
        let letter = #"{"reason":"unknown_type","error":"e.","origin":{"file":"a.jsonl","line":3},"raw":"{}"}"#
        #expect(schema.errors(json: letter) == [])
        let unknown = letter.replacingOccurrences(of: "unknown_type", with: "too_big")
        #expect(schema.errors(json: unknown).count == 1)
        #expect(schema.errors(json: unknown).first?.hasPrefix("/reason: \"too_big\" is not one of") == true)
        let mixedOrigin = letter.replacingOccurrences(of: #""line":3"#, with: #""line":3,"offset":4"#)
        #expect(!schema.isValid(json: mixedOrigin))
        let lineZero = letter.replacingOccurrences(of: #""line":3"#, with: #""line":0"#)
        #expect(!schema.isValid(json: lineZero))
    }

    @Test func anEventWithABadTypeIsRejected() throws {
        let schema = try SchemaValidator(named: "event")
        let event = #"{"id":"e1","type":"collect","time":"2026-01-01T00:00:00Z","subject":"s","categories":["user.name"]}"#
        #expect(schema.errors(json: event) == [])
        let bad = event.replacingOccurrences(of: #""collect""#, with: #""teleport""#)
        #expect(schema.errors(json: bad).first?.hasPrefix(#"/type: "teleport" is not one of"#) == true)
        #expect(!schema.isValid(json: event.replacingOccurrences(of: #""collect""#, with: "7")))
    }

    @Test func aDigestWithAStringForACountIsRejected() throws {
        let subject = try SchemaValidator(named: "subject-digest")
        let digest = #"""
            {"subject":"ana","month":"2026-01","accesses":{"total":1,"by_purpose":{"marketing":1},"by_category":{"user.name":1},
             "by_role":{"support":1},"by_system":{}},"uses":{"total":0,"by_purpose":{}},"shares":[],"consent":[],
             "consent_state":[{"purpose":"marketing","status":"granted","since":"2025-11-02T08:00:00Z","source":null}],
             "deletions":[],"violations":{"total":0,"by_rule":{}}}
            """#
        #expect(subject.errors(json: digest) == [])
        let noState = digest.replacingOccurrences(of: #""consent_state":[{"purpose":"marketing","status":"granted","since":"2025-11-02T08:00:00Z","source":null}],"#, with: "")
        #expect(subject.errors(json: noState) == [#"/: the required property 'consent_state' is missing"#])
        #expect(!subject.isValid(json: digest.replacingOccurrences(of: #""status":"granted""#, with: #""status":"maybe""#)))
        let stringCount = digest.replacingOccurrences(of: #""total":1"#, with: #""total":"1""#)
        #expect(subject.errors(json: stringCount) == [#"/accesses/total: expected integer, found string"#])
        let stringInMap = digest.replacingOccurrences(of: #"{"support":1}"#, with: #"{"support":"1"}"#)
        #expect(subject.errors(json: stringInMap) == [#"/accesses/by_role/support: expected integer, found string"#])

        let org = try SchemaValidator(named: "org-digest")
        let orgDigest = #"""
            {"month":"2026-01","subjects":1,"events":{"total":1,"by_type":{"access":1}},
             "violations":{"total":0,"by_rule":{},"by_severity":{},"subjects_affected":0,"by_kind":{},"by_reason":{},
                           "by_role":{},"by_actor":{},"by_system":{},"by_category":{},"by_rule_and_role":{},"by_reason_and_role":{}},
             "accesses":{"by_purpose":{"marketing":1},"by_role":{"support":1},"by_category":{"user.name":1}},
             "shares":{"by_recipient":{}},"consent":{"granted":{},"withdrawn":{}},
             "erasure":{"deadline":"30d","requested":1,"completed":{"total":0,"on_time":0,"late":0,"days":[]},
                        "open":{"total":1,"overdue":0,"age_days":[{"days":3,"count":1}]}},
             "retention_overdue":{"by_category":{}},"late_events":0}
            """#
        #expect(org.errors(json: orgDigest) == [])
        let zeroInHistogram = org.errors(json: orgDigest.replacingOccurrences(of: #""days":3,"count":1"#, with: #""days":3,"count":0"#))
        #expect(zeroInHistogram.count == 1 && zeroInHistogram.first?.hasPrefix("/erasure/open/age_days/0/count: ") == true, "\(zeroInHistogram)")
        #expect(!org.isValid(json: orgDigest.replacingOccurrences(of: #""late_events":0"#, with: #""late_events":"0""#)))
        #expect(!org.isValid(json: orgDigest.replacingOccurrences(of: #"{"access":1}"#, with: #"{"teleport":1}"#)))
        #expect(!org.isValid(json: orgDigest.replacingOccurrences(of: #""subjects":1"#, with: #""subjects":1.5"#)))
    }

    @Test(arguments: [
        (#"{"type":"object","patternProperties":{"^x":{}}}"#, "unsupported keyword 'patternProperties'"),
        (#"{"$defs":{"unused":{"type":"string","contentEncoding":"base64"}}}"#, "unsupported keyword 'contentEncoding'"),
        (#"{"properties":{"a":{"unevaluatedProperties":false}}}"#, "unsupported keyword 'unevaluatedProperties'"),
        (#"{"type":"string","format":"email"}"#, "only the format date-time"),
        (#"{"$ref":"violation.schema.json"}"#, "only references of the form"),
        (##"{"$ref":"#/$defs/missing"}"##, "does not exist"),
        (#"{"type":"string","pattern":"^\\d+$"}"#, "not supported"),
        (#"{"type":"text"}"#, "unknown type"),
        (#"{"then":{"required":["a"]}}"#, "without 'if'"),
    ])
    func aSchemaWithAnUnsupportedKeywordIsRefused(schema: String, message: String) {
        let text = #"{"$schema":"https://json-schema.org/draft/2020-12/schema","# + String(schema.dropFirst())
        do {
            _ = try SchemaValidator(text: text, name: "test")
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func theValidatorsOwnRules() throws {
        #expect(SchemaValidator.isDateTime("2024-02-29T12:00:00Z"))
        #expect(!SchemaValidator.isDateTime("2025-02-29T12:00:00Z"))
        #expect(!SchemaValidator.isDateTime("1900-02-29T12:00:00Z"))
        #expect(SchemaValidator.isDateTime("2000-02-29t12:00:00.5z"))
        #expect(SchemaValidator.isDateTime("2016-12-31T23:59:60Z"))
        #expect(SchemaValidator.isDateTime("2017-01-01T00:59:60+01:00"))
        #expect(!SchemaValidator.isDateTime("2016-12-31T12:00:60Z"))
        #expect(!SchemaValidator.isDateTime("2016-12-31 12:00:00Z"))
        #expect(!SchemaValidator.isDateTime("2016-12-31T12:00:00"))
        #expect(!SchemaValidator.isDateTime("2016-12-31T12:00:00.Z"))
        let header = #"{"$schema":"https://json-schema.org/draft/2020-12/schema","#
        let anchored = try SchemaValidator(text: header + #""type":"string","pattern":"^a$"}"#, name: "t")
        #expect(anchored.isValid(json: #""a""#))
        #expect(!anchored.isValid(json: #""a\n""#), "$ ends the string, as in ECMA-262")
        let one = try SchemaValidator(text: header + #""oneOf":[{"type":"integer"},{"minimum":0}]}"#, name: "t")
        #expect(one.isValid(json: "-1") && one.isValid(json: "0.5") && !one.isValid(json: "1"))
        let unique = try SchemaValidator(text: header + #""uniqueItems":true}"#, name: "t")
        #expect(!unique.isValid(json: #"[{"a":1,"b":2},{"b":2,"a":1.0}]"#))
        #expect(unique.errors(json: #"{"a":1,"a":2}"#).first?.contains("duplicate key") == true)
        let length = try SchemaValidator(text: header + #""maxLength":1}"#, name: "t")
        #expect(length.isValid(json: #""🚀""#) && !length.isValid(json: #""ab""#))
    }

    // MARK: Helpers

    private func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    private func expectValid(_ documents: [String], _ schema: SchemaValidator, _ what: String) throws {
        var failures = 0
        for document in documents {
            let errors = schema.errors(json: document)
            guard !errors.isEmpty else { continue }
            failures += 1
            if failures <= 5 { Issue.record("a \(what) does not match \(schema.name): \(errors)\n\(document.prefix(600))") }
        }
        #expect(failures == 0, "\(failures) of \(documents.count) \(what)s do not match \(schema.name)")
    }
}
