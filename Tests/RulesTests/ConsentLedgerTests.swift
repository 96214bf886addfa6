import Events
@testable import Rules
import Testing

/// The ledger keeps every consent decision of every customer for as long as the engine runs, so each is kept small;
/// what it answers is the latest decision, at or before a time, for a purpose or one of its ancestors.
@Suite struct ConsentLedgerTests {
    static let uses = Fixtures.taxonomy.uses

    static func consent(_ purpose: String, _ status: ConsentStatus, at time: String, id: String, source: String? = nil) -> Event {
        Fixtures.event(.consent, time: time, purpose: purpose, categories: [], status: status, source: source)
            .with(id: id)
    }

    @Test func aDecisionIsThirtySixBytesAndGivesBackItsPurposeSourceAndStatus() {
        // With the link to the next decision of its list, 40 bytes.
        #expect(MemoryLayout<ConsentLedger.Decision>.size <= 36)
        let d = ConsentLedger.Decision(time: Timestamp(microseconds: 1), purpose: Fixtures.purpose("marketing.advertising"),
                                       status: .granted, source: Symbol("web-form"), event: "e-1")
        #expect(d.purpose(in: Self.uses) == Fixtures.purpose("marketing.advertising"))
        #expect(d.purpose(in: Self.uses).key == "marketing.advertising")
        #expect(d.source?.string == "web-form")
        #expect(d.status == .granted)
        let none = ConsentLedger.Decision(time: Timestamp(microseconds: 1), purpose: Fixtures.purpose("analytics"),
                                          status: .withdrawn, source: nil, event: "e-2")
        #expect(none.source == nil)
        #expect(none.status == .withdrawn)
    }

    @Test func timersAndClocksKeepTheirSizes() {
        #expect(MemoryLayout<EngineContext.Timer>.stride <= 48)
        #expect(MemoryLayout<RetentionEvaluator.Clock>.stride <= 72)
    }

    @Test func theLatestDecisionForThePurposeOrAnAncestorAtOrBeforeTheTimeAnswers() {
        var ledger = ConsentLedger()
        ledger.record(Self.consent("marketing", .granted, at: "2026-01-01T00:00:00Z", id: "c-1"))
        ledger.record(Self.consent("marketing.advertising", .withdrawn, at: "2026-01-10T00:00:00Z", id: "c-2"))
        // Late: arrives after c-2 but was decided before it.
        ledger.record(Self.consent("analytics", .granted, at: "2026-01-05T00:00:00Z", id: "c-3"))
        func answer(_ purpose: String, _ time: String) -> String? {
            ledger.decision(subject: "cust-1", purpose: Fixtures.purpose(purpose), at: Timestamp(rfc3339: time)!)?.event
        }
        #expect(answer("marketing.advertising", "2025-12-31T00:00:00Z") == nil)
        #expect(answer("marketing.advertising", "2026-01-09T00:00:00Z") == "c-1", "the ancestor's decision")
        #expect(answer("marketing.advertising", "2026-01-10T00:00:00Z") == "c-2")
        #expect(answer("marketing.communications", "2026-02-01T00:00:00Z") == "c-1", "a sibling's decision does not count")
        #expect(answer("analytics.reporting", "2026-01-06T00:00:00Z") == "c-3")
        #expect(answer("marketing", "2026-02-01T00:00:00Z") == "c-1", "a child's decision does not cover its parent")
    }
}

@Suite struct ConsentLedgerOrderTests {
    @Test func decisionsAreKeptInEventTimeOrderWithArrivalOrderAmongEqualTimes() {
        var ledger = ConsentLedger()
        ledger.tracksChanges = true
        let at = ["2026-01-05T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-03T00:00:00Z",
                  "2026-01-09T00:00:00Z", "2026-01-01T00:00:00Z"]
        for (i, time) in at.enumerated() {
            ledger.record(ConsentLedgerTests.consent("marketing", i % 2 == 0 ? .granted : .withdrawn, at: time, id: "c-\(i)"))
        }
        let order = ["c-1", "c-5", "c-3", "c-0", "c-2", "c-4"]
        #expect(ledger.decisions(of: "cust-1").map(\.event) == order)
        let changes = ledger.takeChanges()
        #expect(changes.map(\.0) == ["cust-1"])
        #expect(changes.first?.1.map(\.event) == order)
        #expect(ledger.takeChanges().isEmpty)
        // Among equal times the later arrival answers.
        let at5 = Timestamp(rfc3339: "2026-01-05T00:00:00Z")!
        #expect(ledger.decision(subject: "cust-1", purpose: Fixtures.purpose("marketing"), at: at5)?.event == "c-2")

        var restored = ConsentLedger()
        restored.tracksChanges = true
        restored.restore("cust-1", ledger.decisions(of: "cust-1"))
        #expect(restored.decisions(of: "cust-1").map(\.event) == order)
        #expect(restored.takeChanges().isEmpty, "a restored subject is not a change")
        restored.record(ConsentLedgerTests.consent("marketing", .granted, at: "2026-01-04T00:00:00Z", id: "late"))
        #expect(restored.decisions(of: "cust-1").map(\.event) == ["c-1", "c-5", "c-3", "late", "c-0", "c-2", "c-4"])
    }
}

extension Event {
    func with(id: String) -> Event {
        var e = self
        e.id = id
        return e
    }
}
