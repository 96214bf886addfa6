import Digests
import Events
import Foundation
import Processing
import Rules
import Testing

/// The steps of the one processing path that replay and the daemon share.
@Suite struct CoreTests {
    static let pipeline = try! PipelineLoader().load(directory: RepartitioningTests.pipelineDirectory)

    static func line(_ id: String, _ time: String, subject: String = "c1") -> String {
        #"{"id":"\#(id)","type":"use","time":"\#(time)","subject":"\#(subject)","actor":"svc","purpose":"analytics","categories":["user.contact.email"]}"#
    }

    static func take(_ intake: EventIntake, _ text: String, into engine: Engine, skipsBlank: Bool = true) -> Intake {
        Array(text.utf8).withUnsafeBytes { intake.take($0, origin: .file(path: "in.jsonl", line: 1), into: engine, skipsBlank: skipsBlank) }
    }

    @Test func anInvalidMessageIsADeadLetterAndNeverTheFirstOfItsID() {
        let intake = EventIntake(taxonomy: Self.pipeline.taxonomy, until: Timestamp(rfc3339: "2026-02-01T00:00:00Z"))
        let engine = Engine(pipeline: Self.pipeline)
        guard case .deadLetter(let dead) = Self.take(intake, #"{"id":"e1","type":"use","time":"yesterday","subject":"c1"}"#, into: engine) else {
            Issue.record("a bad time is a dead letter")
            return
        }
        #expect(dead.reason == "bad_time")
        guard case .event(_, .accepted) = Self.take(intake, Self.line("e1", "2026-01-05T10:00:00Z"), into: engine) else {
            Issue.record("the valid event with the same id is the first of it")
            return
        }
        guard case .event(_, .duplicate) = Self.take(intake, Self.line("e1", "2026-01-05T10:00:00Z"), into: engine) else {
            Issue.record("a second one is a duplicate")
            return
        }
        guard case .afterUntil = Self.take(intake, Self.line("e2", "2026-03-01T00:00:00Z"), into: engine) else {
            Issue.record("after --until: skipped")
            return
        }
        guard case .blank = Self.take(intake, "  \t", into: engine) else {
            Issue.record("a blank line of a file is nothing")
            return
        }
        guard case .deadLetter(let blank) = Self.take(intake, "  ", into: engine, skipsBlank: false) else {
            Issue.record("a blank Kafka message is a dead letter")
            return
        }
        #expect(blank.reason == "invalid_json")
        let c = intake.counters
        #expect((c.lines, c.events, c.duplicates, c.afterUntil) == (6, 2, 1, 1))
        #expect(c.deadLetters == ["bad_time": 1, "invalid_json": 1])
    }

    @Test func aMonthClosesOnceTheWatermarkPassesItsEndAndLateActivityForItIsNotCounted() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        let book = DigestBook()
        book.processed(try decoder.decode(Self.line("a", "2026-01-31T23:00:00Z")).get(), late: false)
        #expect(book.earliestOpenMonthEnd == Timestamp(rfc3339: "2026-02-01T00:00:00Z"))
        #expect(book.close(through: Timestamp(rfc3339: "2026-01-31T23:59:59Z")!).isEmpty)
        let closed = book.close(through: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!)
        #expect(closed.map(\.month) == ["2026-01"])
        #expect(closed.first?.subjects.map(\.subject) == ["c1"])
        #expect(book.earliestOpenMonthEnd == nil)
        book.processed(try decoder.decode(Self.line("b", "2026-01-31T23:30:00Z", subject: "c2")).get(), late: true)
        #expect(book.close(through: Timestamp(rfc3339: "2026-03-01T00:00:00Z")!).isEmpty, "January is closed: nothing reopens it")
    }

    @Test func aBookRestoredFromItsRowsGoesOnWhereItStopped() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        let book = try DigestBook(restoring: [], closedBefore: nil)
        book.processed(try decoder.decode(Self.line("a", "2026-01-10T10:00:00Z")).get(), late: false)
        book.recordViolation(ViolationFacts(rule: "r", kind: "match", reason: "x", severity: "high",
                                            time: Timestamp(rfc3339: "2026-01-10T10:00:00Z")!, subject: "c1"))
        let rows = book.stateChanges()
        #expect(rows.map(\.namespace) == ["digest-log:2026-01", "digest-org"])
        #expect(rows.first?.value?.first == 1, "a month's row holds counters (version 1), not digests' JSON")
        #expect(book.stateChanges().isEmpty, "only what changed since the last call")

        let again = try DigestBook(restoring: rows, closedBefore: nil)
        #expect(again.holds("c1", in: "2026-01") && !again.holds("c2", in: "2026-01"))
        again.processed(try decoder.decode(Self.line("b", "2026-01-11T10:00:00Z")).get(), late: false)
        let month = try #require(again.close(through: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!).first)
        #expect(month.subjects.first?.useTotal == 2)
        #expect(month.org.violationTotal == 1 && month.org.subjectsWithViolations == 1)
        #expect(again.closedBefore == "2026-02")
        #expect(again.stateChanges().allSatisfy { $0.value == nil }, "a closed month's rows are deleted")

        let empty = try DigestBook(restoring: [], closedBefore: nil)
        #expect(empty.close(through: Timestamp(rfc3339: "2026-03-05T00:00:00Z")!).isEmpty)
        #expect(empty.closedBefore == "2026-03", "a lane without events still says how far it has closed")
    }

    /// Every kind of counter a subject's month holds survives its state row: the book restored from the rows closes the
    /// month into the same digest. A row written as a digest's JSON (before rows were binary) is read too.
    @Test func aSubjectsCountersSurviveTheirStateRowAndOldRowsAreRead() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        let lines = [
            #"{"id":"a1","type":"access","time":"2026-01-03T10:00:00Z","subject":"c1","actor":"eve","role":"support","system":"crm","purpose":"analytics","categories":["user.contact.email","user.name"]}"#,
            #"{"id":"a2","type":"access","time":"2026-01-04T10:00:00Z","subject":"c1","actor":"eve","role":"support","system":"crm","purpose":"analytics","categories":["user.name"],"recipient":"partner"}"#,
            Self.line("u1", "2026-01-05T10:00:00Z"),
            #"{"id":"s1","type":"share","time":"2026-01-06T10:00:00Z","subject":"c1","actor":"svc","purpose":"marketing","categories":["user.contact.email","user.name"],"recipient":"ad-network"}"#,
            #"{"id":"s2","type":"share","time":"2026-01-07T10:00:00Z","subject":"c1","actor":"svc","purpose":"analytics","categories":["user.name"],"recipient":"partner"}"#,
            #"{"id":"c1","type":"consent","time":"2026-01-08T10:00:00Z","subject":"c1","purpose":"marketing","status":"withdrawn","source":"web"}"#,
            #"{"id":"c2","type":"consent","time":"2026-01-09T10:00:00Z","subject":"c1","purpose":"analytics","status":"granted"}"#,
            #"{"id":"d1","type":"delete","time":"2026-01-10T10:00:00Z","subject":"c1","categories":["*"]}"#,
            #"{"id":"d2","type":"delete","time":"2026-01-11T10:00:00Z","subject":"c1","categories":["user.name","user.contact.email"]}"#,
        ]
        let book = try DigestBook(restoring: [], closedBefore: nil)
        for line in lines { book.processed(try decoder.decode(line).get(), late: false) }
        book.recordViolation(ViolationFacts(rule: "r", kind: "match", reason: "x", severity: "high",
                                            time: Timestamp(rfc3339: "2026-01-10T10:00:00Z")!, subject: "c1"))
        let rows = book.stateChanges()
        let end = Timestamp(rfc3339: "2026-02-01T00:00:00Z")!
        let expected = try #require(book.close(through: end).first?.subjects.first)
        #expect(expected.accessTotal == 2 && expected.shares.count == 2 && expected.consent.count == 2 && expected.deletions.count == 2)

        let restored = try DigestBook(restoring: rows, closedBefore: nil)
        let again = try #require(restored.close(through: end).first?.subjects.first)
        #expect(again.json.serialized == expected.json.serialized)

        // Before 2026-12 a subject's counters (and before that its digest's JSON) were a row of their own.
        let log = try #require(rows.first { $0.namespace == "digest-log:2026-01" }?.value)
        var reader = try #require(StateBytes.Reader(log, version: 1))
        let subject = reader.string(), read = reader.blob()
        #expect(subject == "c1")
        let counters = try #require(read)
        #expect(reader.atEnd)
        for value in [counters, Array(expected.json.serialized.utf8)] {
            let old = rows.map { row in
                row.namespace == "digest-log:2026-01" ? StateChange(namespace: "digest:2026-01", key: "c1", value: value) : row
            }
            let restoredOld = try DigestBook(restoring: old, closedBefore: nil)
            let fromOld = try #require(restoredOld.close(through: end).first?.subjects.first)
            #expect(fromOld.json.serialized == expected.json.serialized)
            #expect(restoredOld.stateChanges().contains(StateChange(namespace: "digest:2026-01", key: "c1", value: nil)),
                    "the old row is deleted when its month closes")
        }

        let cut = rows.map { row in
            row.namespace == "digest-log:2026-01" ? StateChange(namespace: row.namespace, key: row.key, value: Array(row.value!.dropLast())) : row
        }
        #expect(throws: ProcessingError.self, "a row cut short is an error, not an empty month") {
            try DigestBook(restoring: cut, closedBefore: nil)
        }
    }

    /// A month's counters are written as rows of the subjects each checkpoint touched, until they hold three times
    /// as many subjects' counters as the month has subjects: then one row holds them all and replaces the others (and
    /// any row of one subject that an earlier version wrote). What the rows hold restores the book at every step.
    @Test func aMonthsRowsAreReplacedByOneOnceTheyHoldThreeTimesItsSubjects() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        let end = Timestamp(rfc3339: "2026-02-01T00:00:00Z")!
        // Stored rows as the store keeps them: written over and deleted by key.
        var stored: [String: StateChange] = [
            "digest:2026-01/old": StateChange(namespace: "digest:2026-01", key: "old", value: nil),
        ]
        func store(_ rows: [StateChange]) {
            for row in rows { stored["\(row.namespace)/\(row.key)"] = row.value == nil ? nil : row }
        }
        let seed = try DigestBook(restoring: [], closedBefore: nil)
        seed.processed(try decoder.decode(Self.line("o", "2026-01-01T10:00:00Z", subject: "old")).get(), late: false)
        let seedLog = try #require(seed.stateChanges().first { $0.namespace == "digest-log:2026-01" }?.value)
        var reader = try #require(StateBytes.Reader(seedLog, version: 1))
        _ = reader.string()
        let read = reader.blob()
        let oldCounters: [UInt8] = try #require(read)
        stored["digest:2026-01/old"] = StateChange(namespace: "digest:2026-01", key: "old", value: oldCounters)

        let book = try DigestBook(restoring: Array(stored.values), closedBefore: nil)
        var mirror = try DigestBook(restoring: Array(stored.values), closedBefore: nil)
        var n = 0
        func touch(_ subjects: [String]) throws -> [StateChange] {
            for subject in subjects {
                n += 1
                let event = try decoder.decode(Self.line("e\(n)", "2026-01-02T10:00:00Z", subject: subject)).get()
                book.processed(event, late: false)
            }
            let rows = book.stateChanges()
            store(rows)
            return rows
        }
        // The first checkpoint of the month replaces the earlier version's row.
        var rows = try touch(["a", "b", "c", "d"])
        #expect(rows.contains(StateChange(namespace: "digest:2026-01", key: "old", value: nil)))
        #expect(stored.keys.sorted() == ["digest-log:2026-01/00000000000000000000", "digest-org/2026-01"])
        // Five subjects: rows of what each checkpoint touched until they hold more than 15 subjects' counters.
        for step in 1...5 {
            rows = try touch(["a", "b"])
            #expect(rows.filter { $0.value == nil }.isEmpty, "step \(step)")
            #expect(stored.count == step + 2)
        }
        rows = try touch(["a", "b"])
        #expect(rows.filter { $0.value == nil }.count == 6, "the six rows before it are deleted")
        #expect(stored.keys.sorted() == ["digest-log:2026-01/00000000000000000006", "digest-org/2026-01"])
        _ = try touch(["c"])

        mirror = try DigestBook(restoring: Array(stored.values), closedBefore: nil)
        let expected = try #require(book.close(through: end).first)
        let restored = try #require(mirror.close(through: end).first)
        #expect(restored.subjects.map(\.json.serialized) == expected.subjects.map(\.json.serialized))
        #expect(expected.subjects.map(\.subject) == ["a", "b", "c", "d", "old"])
        #expect(expected.subjects.first?.useTotal == 7)
        store(book.stateChanges())
        #expect(stored.isEmpty, "a closed month's rows are all deleted")
        mirror.processed(try decoder.decode(Self.line("x", "2026-02-02T10:00:00Z")).get(), late: false)
        #expect(mirror.stateChanges().first?.key == "00000000000000000008", "row numbers go on after a restart")
    }

    /// A row holds at most `subjectsPerLogRow` subjects' counters; a month's rows outweigh a row of one subject that an
    /// earlier version wrote; rows of a month already closed are deleted, not read.
    @Test func aMonthsRowsAreBoundedAndRowsOfClosedMonthsAreDeleted() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        let book = try DigestBook(restoring: [], closedBefore: nil)
        book.subjectsPerLogRow = 2
        for (n, subject) in ["a", "b", "c", "d", "e"].enumerated() {
            book.processed(try decoder.decode(Self.line("e\(n)", "2026-01-02T10:00:00Z", subject: subject)).get(), late: false)
        }
        let rows = book.stateChanges().filter { $0.namespace == "digest-log:2026-01" }
        #expect(rows.map(\.key) == ["00000000000000000000", "00000000000000000001", "00000000000000000002"])
        let subjects = try rows.map { row -> [String] in
            let value = try #require(row.value)
            var reader = try #require(StateBytes.Reader(value, version: 1))
            var names: [String] = []
            while !reader.atEnd {
                let name = reader.string(), counters = reader.blob()
                guard let name, counters != nil else { break }
                names.append(name)
            }
            return names
        }
        #expect(subjects == [["a", "b"], ["c", "d"], ["e"]])

        // An earlier version's row of "a" (a digest with no uses) under the rows of this layout, which stand.
        let before = SubjectDigest(subject: "a", month: "2026-01")
        let mixed = rows + [StateChange(namespace: "digest:2026-01", key: "a", value: Array(before.json.serialized.utf8))]
        let restored = try DigestBook(restoring: mixed, closedBefore: nil)
        let month = try #require(restored.close(through: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!).first)
        #expect(month.subjects.first { $0.subject == "a" }?.useTotal == 1)

        let late = try DigestBook(restoring: rows, closedBefore: "2026-02")
        #expect(!late.holds("a", in: "2026-01"))
        #expect(late.stateChanges() == rows.map { StateChange(namespace: $0.namespace, key: $0.key, value: nil) })
    }

    /// A subject's consent decisions are state rows of their own: they outlive the month they were made in, move
    /// with the partition, and give later months' digests their `consent_state`.
    @Test func consentDecisionsOutliveTheirMonthAndARestart() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        func consent(_ id: String, _ time: String, _ purpose: String, _ status: String) throws -> Event {
            let line = #"{"id":"\#(id)","type":"consent","time":"\#(time)","subject":"c1","purpose":"\#(purpose)","status":"\#(status)","source":"web"}"#
            return try decoder.decode(line).get()
        }
        let book = try DigestBook(restoring: [], closedBefore: nil)
        book.processed(try consent("k1", "2026-01-05T10:00:00Z", "marketing", "granted"), late: false)
        book.processed(try consent("k2", "2026-01-06T10:00:00Z", "marketing", "withdrawn"), late: false)
        book.processed(try consent("k3", "2026-01-07T10:00:00Z", "analytics", "granted"), late: false)
        let rows = book.stateChanges()
        let decisions = try #require(rows.first { $0.namespace == DigestBook.consentNamespace })
        #expect(decisions.key == "c1")
        #expect(book.close(through: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!).first?.subjects.first?.consentState.map(\.status)
                == ["granted", "withdrawn"])
        // The decisions January superseded are forgotten when it closes: that change is stored too.
        let pruned = try #require(book.stateChanges().first { $0.namespace == DigestBook.consentNamespace })
        let kept = try SubjectDigest.ConsentStanding.list(jsonText: String(decoding: pruned.value ?? [], as: UTF8.self), origin: "test")
        #expect(kept.map(\.status) == ["granted", "withdrawn"] && kept.map(\.purpose) == ["analytics", "marketing"])

        // Restarted in March: an event of the subject gives March's digest January's standing choices.
        let again = try DigestBook(restoring: [pruned], closedBefore: "2026-02")
        again.processed(try decoder.decode(Self.line("m", "2026-03-02T10:00:00Z")).get(), late: false)
        let march = try #require(again.close(through: Timestamp(rfc3339: "2026-04-01T00:00:00Z")!).first?.subjects.first)
        #expect(march.consentState == [
            .init(purpose: "analytics", status: "granted", since: Timestamp(rfc3339: "2026-01-07T10:00:00Z")!, source: "web"),
            .init(purpose: "marketing", status: "withdrawn", since: Timestamp(rfc3339: "2026-01-06T10:00:00Z")!, source: "web"),
        ])
        #expect(march.json.serialized.contains(#""consent_state":[{"purpose":"analytics","status":"granted","since":"2026-01-07T10:00:00Z","source":"web"}"#))
        #expect(again.carriesDecisions(of: "c1") && !again.carriesDecisions(of: "c2"))
    }

    /// Erasure requests are state rows of their own: one made in January and answered in March counts as open at the
    /// end of January and February and as answered late in March, across a restart in February.
    @Test func erasureRequestsOutliveTheirMonthAndARestart() throws {
        let decoder = EventDecoder(taxonomy: Self.pipeline.taxonomy)
        let watch = try #require(ErasureWatch(pipeline: Self.pipeline))
        #expect(watch.within == .days(30))
        func event(_ id: String, _ type: String, _ time: String, _ extra: String = "") throws -> Event {
            try decoder.decode(#"{"id":"\#(id)","type":"\#(type)","time":"\#(time)","subject":"c1"\#(extra)}"#).get()
        }
        let book = try DigestBook(restoring: [], closedBefore: nil, erasure: watch)
        book.processed(try event("r1", "erasure_request", "2026-01-20T00:00:00Z"), late: false)
        let january = try #require(book.close(through: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!).first?.org.erasure)
        #expect((january.requested, january.open, january.openOverdue, january.openAgeDays) == (1, 1, 0, [12: 1]))
        let rows = book.stateChanges().filter { $0.namespace == DigestBook.erasureNamespace }
        #expect(rows.map(\.key) == ["c1"])

        let again = try DigestBook(restoring: rows, closedBefore: "2026-02", erasure: watch)
        again.processed(try event("x", "collect", "2026-02-10T00:00:00Z", #","categories":["user.name"]"#), late: false)
        let february = try #require(again.close(through: Timestamp(rfc3339: "2026-03-01T00:00:00Z")!).first?.org.erasure)
        #expect((february.requested, february.open, february.openOverdue, february.openAgeDays) == (0, 1, 1, [40: 1]))
        again.processed(try event("d1", "delete", "2026-03-03T00:00:00Z", #","categories":["*"]"#), late: false)
        let march = try #require(again.close(through: Timestamp(rfc3339: "2026-04-01T00:00:00Z")!).first?.org.erasure)
        #expect((march.completed, march.completedOnTime, march.completedLate, march.daysToComplete, march.open) == (1, 0, 1, [42: 1], 0))
        #expect(again.stateChanges().contains { $0.namespace == DigestBook.erasureNamespace && $0.value == nil },
                "an answered request is forgotten once its month closes")
    }

    /// A keyed task's violation waits in the global space until its subject's partition counts it: every fact the
    /// organisation digest breaks violations down by comes back from the row, and rows of the earlier format still read.
    @Test func aDigestAmendmentKeepsTheFactsOfItsViolation() throws {
        let facts = ViolationFacts(rule: "bulk-access", kind: "threshold", reason: "limit_exceeded", severity: "critical",
                                   time: Timestamp(rfc3339: "2026-01-03T06:03:20.533Z")!, subject: "c\u{1F}1", actor: "exporter@corp",
                                   role: "support", system: "crm", categories: ["user.contact", "user.name"])
        var amendment = try DigestAmendment(row: StateChange(namespace: "n", key: "v1", value: Array("bulk-access\u{1F}critical\u{1F}5\u{1F}c1".utf8)))
        #expect(amendment.facts == ViolationFacts(rule: "bulk-access", kind: "", reason: "", severity: "critical",
                                                  time: Timestamp(microseconds: 5), subject: "c1"))
        amendment.facts = facts
        let back = try DigestAmendment(row: StateChange(namespace: "n", key: "v1", value: amendment.value))
        #expect(back.facts == facts && back.violationID == "v1")
        #expect(throws: ProcessingError.self) { try DigestAmendment(row: StateChange(namespace: "n", key: "v1", value: Array("{\"rule\":1}".utf8))) }
    }

    @Test func aMonthFolderHoldsTheLinesInOrderAndTheOrgDigest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-folder-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var org = OrgDigest(month: "2026-01")
        org.subjects = 2
        try DigestFolder(directory: dir.path).write(month: "2026-01", subjects: [Array("{\"a\":1}".utf8), Array("{\"b\":2}".utf8)], org: org)
        let month = dir.appendingPathComponent("2026-01")
        #expect(try String(contentsOf: month.appendingPathComponent("subjects.jsonl"), encoding: .utf8) == "{\"a\":1}\n{\"b\":2}\n")
        #expect(try String(contentsOf: month.appendingPathComponent("org.json"), encoding: .utf8) == org.json.pretty() + "\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: month.path).sorted() == ["org.json", "subjects.jsonl"],
                "no partial file is left")
    }
}
