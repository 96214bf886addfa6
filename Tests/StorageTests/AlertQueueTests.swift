import Foundation
import Testing

@testable import Storage

@Suite("Alert queue, on both backends")
struct AlertQueueTests {
    func alert(_ id: String, _ destination: String = "security/webhook", group: String = "g") -> AlertRow {
        AlertRow(id: "\(destination)#\(id)", destination: destination, group: group, value: bytes("{\"id\":\"\(id)\"}"))
    }

    @Test(arguments: Backend.allCases)
    func queuedInTheBatchThenDeliveredDeferredOrRejected(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let claim = try await store.claim(events0, pipeline: "p")
                try await store.commit(
                    BatchCommit(
                        claims: [events0: PartitionCommit(expectedOffset: nil, epoch: claim.epoch, nextOffset: 1)],
                        alerts: [alert("a"), alert("b"), alert("c"), alert("a", "security/slack")]),
                    pipeline: "p")
                // A second commit with the same ids (a re-processed batch) adds nothing.
                try await store.commit(
                    BatchCommit(
                        claims: [events0: PartitionCommit(expectedOffset: 1, epoch: claim.epoch, nextOffset: 2)],
                        alerts: [alert("a"), alert("d")]),
                    pipeline: "p")
                #expect(try await store.alertDepths() == ["security/webhook": 4, "security/slack": 1])
                #expect(try await store.outboxDepth() == 0, "alerts are not outbox rows")
                let pending = try await store.pendingAlerts(destination: "security/webhook", limit: 10)
                #expect(pending.map(\.row) == [alert("a"), alert("b"), alert("c"), alert("d")])
                #expect(pending.allSatisfy { $0.attempts == 0 && abs($0.queuedAt.timeIntervalSinceNow) < 60 })
                #expect(try await store.pendingAlerts(destination: "security/webhook", limit: 2).count == 2)

                let later = Date(timeIntervalSinceNow: 3600)
                try await store.deferAlerts(["security/webhook#b"], until: later, error: "HTTP 503")
                try await store.deferAlerts(["security/webhook#b"], until: later, error: "HTTP 503")
                try await store.markAlertsDelivered(["security/webhook#a"])
                try await store.rejectAlerts(["security/webhook#c"], error: "HTTP 400")
                // b waits an hour: only d is due now; in an hour both are.
                #expect(try await store.pendingAlerts(destination: "security/webhook", limit: 10).map(\.row.id)
                    == ["security/webhook#d"])
                let after = try await store.pendingAlerts(
                    destination: "security/webhook", limit: 10, now: later.addingTimeInterval(1))
                #expect(after.map(\.row.id) == ["security/webhook#b", "security/webhook#d"])
                #expect(after[0].attempts == 2)
                #expect(abs(after[0].row.notBefore!.timeIntervalSince(later)) < 1)
                #expect(try await store.alertDepths() == ["security/webhook": 2, "security/slack": 1])
                // Delivered and rejected ids stay known.
                try await store.enqueueAlerts([alert("a"), alert("c"), alert("e")])
                #expect(try await store.alertDepths()["security/webhook"] == 3)
                #expect(try await store.pruneDeliveredAlerts(before: Date(timeIntervalSinceNow: 60)) == 1)
                #expect(try await store.pruneDeliveredAlerts(before: Date(timeIntervalSinceNow: 60)) == 0)
            }
        }
    }

    /// A PagerDuty resolve hours ahead for each delivered trigger: hundreds of them must not hide the triggers due now,
    /// nor count as waiting.
    @Test(arguments: Backend.allCases)
    func futureAlertsNeverHideDueOnes(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let inFourHours = Date(timeIntervalSinceNow: 4 * 3600)
                let resolves = (0..<5).map { i in
                    AlertRow(
                        id: "security/pagerduty#resolve:r\(i)", destination: "security/pagerduty", group: "resolve:r\(i)",
                        value: bytes("{}"), notBefore: inFourHours)
                }
                try await store.enqueueAlerts(resolves)
                try await store.enqueueAlerts([alert("t1", "security/pagerduty"), alert("t2", "security/pagerduty")])
                let due = try await store.pendingAlerts(destination: "security/pagerduty", limit: 2)
                #expect(due.map(\.row.id) == ["security/pagerduty#t1", "security/pagerduty#t2"])
                #expect(try await store.alertDepths() == ["security/pagerduty": 2], "resolves not yet due do not count")
                let later = try await store.pendingAlerts(
                    destination: "security/pagerduty", limit: 10, now: inFourHours.addingTimeInterval(1))
                #expect(later.count == 7)
                #expect(try await store.alertDepths(now: inFourHours.addingTimeInterval(1)) == ["security/pagerduty": 7])
            }
        }
    }

    /// The aggregation windows compare `queuedAt` with the daemon's clock: it is the daemon's time, not the database's.
    @Test(arguments: Backend.allCases)
    func anAlertIsQueuedAtTheDaemonsTime(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let twoHoursAgo = Date(timeIntervalSinceNow: -7200)
                try await store.enqueueAlerts([alert("a")], at: twoHoursAgo)
                let queued = try await store.pendingAlerts(destination: "security/webhook", limit: 10)
                try #require(queued.count == 1)
                #expect(abs(queued[0].queuedAt.timeIntervalSince(twoHoursAgo)) < 1)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func alertsOverTheBoundAreSetAsideKeptAndReportedOnce(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let resolve = AlertRow(
                    id: "security/webhook#resolve:x", destination: "security/webhook", group: "resolve:x", value: bytes("{}"),
                    notBefore: Date(timeIntervalSinceNow: 3600))
                try await store.enqueueAlerts((1...8).map { alert("a\($0)") } + [resolve] + [alert("b1", "security/slack")])
                #expect(try await store.setAsideAlerts(destination: "security/webhook", keep: 5, at: Date()) == 3)
                #expect(try await store.setAsideAlerts(destination: "security/webhook", keep: 5, at: Date()) == 0)
                #expect(try await store.alertDepths() == ["security/webhook": 5, "security/slack": 1])
                let pending = try await store.pendingAlerts(
                    destination: "security/webhook", limit: 100, now: Date(timeIntervalSinceNow: 7200))
                #expect(pending.map(\.row.id) == (1...5).map { "security/webhook#a\($0)" } + ["security/webhook#resolve:x"],
                        "the oldest are kept, the resolve is never set aside")
                // Set-aside alerts are no longer pending: delivering them is a no-op; their ids stay known.
                try await store.markAlertsDelivered(["security/webhook#a8"])
                try await store.enqueueAlerts([alert("a8")])
                #expect(try await store.alertDepths()["security/webhook"] == 5)

                let summary = try #require(try await store.setAsideSummary(destination: "security/webhook"))
                #expect(summary.count == 3)
                #expect(try await store.setAsideSummary(destination: "security/slack") == nil)
                try await store.markSetAsideReported(destination: "security/webhook", through: summary.lastSeq)
                #expect(try await store.setAsideSummary(destination: "security/webhook") == nil, "reported once")
                // A later episode is reported on its own.
                try await store.enqueueAlerts([alert("a9"), alert("a10")])
                #expect(try await store.setAsideAlerts(destination: "security/webhook", keep: 5, at: Date()) == 2)
                #expect(try await store.setAsideSummary(destination: "security/webhook")?.count == 2)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func oneOwnerHoldsALeaseUntilItExpiresOrIsGivenUp(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                #expect(try await store.acquireLease("alerts:x", owner: "one", seconds: 30))
                #expect(try await store.acquireLease("alerts:x", owner: "one", seconds: 30), "renewed")
                #expect(try await store.acquireLease("alerts:x", owner: "two", seconds: 30) == false)
                #expect(try await store.acquireLease("alerts:y", owner: "two", seconds: 30))
                #expect(try await store.acquireLease("alerts:x", owner: "one", seconds: 0), "given up")
                try await Task.sleep(for: .milliseconds(20))
                #expect(try await store.acquireLease("alerts:x", owner: "two", seconds: 30))
                #expect(try await store.acquireLease("alerts:x", owner: "one", seconds: 30) == false)
            }
        }
    }
}
