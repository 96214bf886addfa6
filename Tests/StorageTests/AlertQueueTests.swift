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
                let after = try await store.pendingAlerts(destination: "security/webhook", limit: 10)
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
