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

    @Test func aDecisionIsFortyBytesAndGivesBackItsPurposeAndSource() {
        #expect(MemoryLayout<ConsentLedger.Decision>.stride <= 40)
        let d = ConsentLedger.Decision(time: Timestamp(microseconds: 1), purpose: Fixtures.purpose("marketing.advertising"),
                                       status: .granted, source: Symbol("web-form"), event: "e-1")
        #expect(d.purpose(in: Self.uses) == Fixtures.purpose("marketing.advertising"))
        #expect(d.purpose(in: Self.uses).key == "marketing.advertising")
        #expect(d.source?.string == "web-form")
        let none = ConsentLedger.Decision(time: Timestamp(microseconds: 1), purpose: Fixtures.purpose("analytics"),
                                          status: .withdrawn, source: nil, event: "e-2")
        #expect(none.source == nil)
    }

    @Test func theLatestDecisionForThePurposeOrAnAncestorAtOrBeforeTheTimeAnswers() {
        let ledger = ConsentLedger()
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

extension Event {
    func with(id: String) -> Event {
        var e = self
        e.id = id
        return e
    }
}
