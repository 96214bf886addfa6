@testable import Digests
import Events
import Foundation
import Testing

/// What the daemon needs of `MonthlyDigests` beyond replay: which subjects changed, putting digests back from a
/// store, a boundary before which months count as closed, and adding up organisation parts.
@Suite struct MonthlyDigestsTests {
    static func event(_ json: String) throws -> Event {
        try EventDecoder(taxonomy: try Taxonomy.builtin()).decode(json).get()
    }

    static let access = #"{"id":"a1","type":"access","time":"2026-01-05T10:00:00Z","subject":"s1","actor":"x","role":"support","purpose":"essential.service.operations.support","categories":["user.name"]}"#
    static let consent = #"{"id":"c1","type":"consent","time":"2026-02-02T10:00:00Z","subject":"s2","purpose":"marketing","status":"withdrawn","source":"web"}"#

    @Test func changesAreTrackedOnlyWhenAsked() throws {
        var digests = MonthlyDigests()
        digests.record(try Self.event(Self.access), late: false)
        #expect(digests.takeChanges().isEmpty)
        digests.tracksChanges = true
        digests.record(try Self.event(Self.access), late: false)
        digests.record(try Self.event(Self.consent), late: false)
        digests.recordViolation(ViolationFacts(rule: "r", kind: "match", reason: "x", severity: "high",
                                               time: Timestamp(rfc3339: "2026-01-06T00:00:00Z")!, subject: "s3"))
        #expect(digests.takeChanges() == ["2026-01": ["s1", "s3"], "2026-02": ["s2"]])
        #expect(digests.takeChanges().isEmpty)
        digests.record(try Self.event(Self.access), late: false)
        _ = digests.close(endingBy: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!)
        #expect(digests.takeChanges().isEmpty, "a closed month has nothing left to write")
    }

    @Test func restoredDigestsGoOnAndClosedMonthsStayClosed() throws {
        var first = MonthlyDigests()
        first.record(try Self.event(Self.access), late: false)
        let digest = try #require(first.subjectDigest("s1", in: "2026-01"))
        let org = try #require(first.orgDigest("2026-01"))
        var second = MonthlyDigests()
        second.restore(try SubjectDigest(jsonText: digest.json.serialized))
        second.restore(try OrgDigest(jsonText: org.json.serialized))
        second.record(try Self.event(Self.access), late: false)
        let closed = second.close(endingBy: Timestamp(rfc3339: "2026-02-01T00:00:00Z")!)
        #expect(closed.map(\.month) == ["2026-01"])
        #expect(closed.first?.subjects.first?.accessTotal == 2)
        #expect(closed.first?.org.eventsByType == ["access": 2])

        var bounded = MonthlyDigests()
        bounded.closedBefore = "2026-02"
        bounded.record(try Self.event(Self.access), late: true)
        #expect(bounded.openMonths.isEmpty && bounded.lateForClosedMonths == 1)
        bounded.record(try Self.event(Self.consent), late: false)
        #expect(bounded.openMonths == ["2026-02"])
    }

    @Test func organisationPartsAddUp() {
        var a = OrgDigest(month: "2026-01")
        a.subjects = 2
        a.eventsByType = ["access": 3, "use": 1]
        a.violationTotal = 1
        a.violationsByRule = ["r": 1]
        a.subjectsWithViolations = 1
        a.lateEvents = 1
        var b = OrgDigest(month: "2026-01")
        b.subjects = 1
        b.eventsByType = ["access": 2]
        b.consentWithdrawn = ["marketing": 1]
        var sum = OrgDigest(month: "2026-01")
        sum.add(a)
        sum.add(b)
        #expect(sum.subjects == 3 && sum.eventsByType == ["access": 5, "use": 1] && sum.violationTotal == 1)
        #expect(sum.subjectsWithViolations == 1 && sum.lateEvents == 1 && sum.consentWithdrawn == ["marketing": 1])
        #expect(sum.json.serialized.contains(#""total":6"#))
    }
}

/// A subject's tally keeps its month's consent changes and deletions in a box shared by copies until one changes, and
/// its counts in 32 bits.
@Suite struct SubjectTallyTests {
    @Test func copiesNeverShareTheirChanges() {
        var original = SubjectTally()
        original.consent = [SubjectDigest.ConsentChange(time: Timestamp(microseconds: 1), purpose: "marketing", status: "granted", source: nil)]
        var copy = original
        copy.consent.append(SubjectDigest.ConsentChange(time: Timestamp(microseconds: 2), purpose: "analytics", status: "withdrawn", source: "web"))
        copy.deletions.append(SubjectDigest.Deletion(time: Timestamp(microseconds: 3), categories: ["user.contact"]))
        #expect(original.consent.map(\.purpose) == ["marketing"] && original.deletions.isEmpty)
        #expect(copy.consent.map(\.purpose) == ["marketing", "analytics"] && copy.deletions.count == 1)
        var third = copy
        third.deletions = []
        #expect(copy.deletions.count == 1 && third.deletions.isEmpty && third.consent.count == 2)
    }

    @Test func countsStopAtTheirLargestValueAndSurviveTheStateRow() throws {
        var tally = SubjectTally()
        tally.accessTotal = Int(UInt32.max) + 10
        tally.useTotal = 7
        tally.bump(.accessPurpose, Symbol("analytics").id, by: Int(UInt32.max) + 1)
        tally.consent = [SubjectDigest.ConsentChange(time: Timestamp(microseconds: 5), purpose: "marketing", status: "granted", source: "web")]
        #expect(tally.accessTotal == Int(UInt32.max) && tally.counters.first?.count == Int(UInt32.max))
        let back = try #require(SubjectTally(state: tally.state(SymbolTable.shared.all)))
        #expect(back.accessTotal == Int(UInt32.max) && back.useTotal == 7 && back.violationTotal == 0)
        #expect(back.consent.map(\.source) == ["web"] && back.deletions.isEmpty)
        #expect(back.counters.map(\.count) == [Int(UInt32.max)])
    }
}
