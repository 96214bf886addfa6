import Alerts
import Foundation
import Testing

@testable import Rules

@Suite("Aggregation windows")
struct AlertAggregatorTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func pending(_ id: String, actor: String?, subject: String = "s-1", rule: String = "role-access", at seconds: Double,
                 notBefore: Double? = nil) -> AlertAggregator.Pending {
        let v = AlertViolation(violation(id, rule: rule, actor: actor, subject: subject))
        return AlertAggregator.Pending(
            id: id, group: v.group, at: t0.addingTimeInterval(seconds),
            notBefore: notBefore.map { t0.addingTimeInterval($0) }, violation: v)
    }

    @Test func withoutAWindowEveryAlertIsAMessageAtOnce() {
        let alerts = [pending("a", actor: "alice", at: 0), pending("b", actor: "alice", at: 1), pending("c", actor: "bob", at: 2, notBefore: 60)]
        let due = AlertAggregator(window: nil).due(alerts, now: t0.addingTimeInterval(3))
        #expect(due.map(\.ids) == [["a"], ["b"]], "c is held back until its retry time")
    }

    @Test func aWindowGroupsOneRuleAndActorAndClosesAfterTheWindow() {
        let alerts = [
            pending("a1", actor: "alice", at: 0), pending("b1", actor: "bob", at: 10), pending("a2", actor: "alice", at: 100),
            pending("a3", actor: "alice", at: 299), pending("a4", actor: "alice", at: 300),
            pending("x1", actor: "alice", rule: "bulk-access", at: 20),
            pending("n1", actor: nil, subject: "s-9", at: 30), pending("n2", actor: nil, subject: "s-9", at: 40),
        ]
        let aggregator = AlertAggregator(window: .seconds(300))
        #expect(aggregator.due(alerts, now: t0.addingTimeInterval(299)).isEmpty, "no window has closed yet")
        let due = aggregator.due(alerts, now: t0.addingTimeInterval(300))
        #expect(due.map(\.ids) == [["a1", "a2", "a3"]], "a4 is at the window's end: the next window")
        let later = aggregator.due(alerts, now: t0.addingTimeInterval(340))
        #expect(later.map(\.ids) == [["a1", "a2", "a3"], ["b1"], ["x1"], ["n1", "n2"]])
        #expect(later[3].group == "role-access|subject:s-9", "without an actor, alerts group by subject")
        // Once the first window's alerts are delivered, a4 opens the next window.
        let rest = alerts.filter { !["a1", "a2", "a3", "b1", "x1", "n1", "n2"].contains($0.id) }
        #expect(aggregator.due(rest, now: t0.addingTimeInterval(599)).isEmpty)
        #expect(aggregator.due(rest, now: t0.addingTimeInterval(600)).map(\.ids) == [["a4"]])
        // At the end of a replay, every window is closed.
        #expect(aggregator.all(alerts).map(\.ids) == [["a1", "a2", "a3"], ["b1"], ["x1"], ["n1", "n2"], ["a4"]])
    }

    @Test func aMessageSaysHowManyTheFirstAndLastTimesAndASample() {
        let vs = [
            violation("v1", time: "2026-03-01T10:02:00Z"), violation("v2", time: "2026-03-01T10:00:00Z"),
            violation("v3", time: "2026-03-01T10:04:30Z"),
        ].map(AlertViolation.init)
        let message = AlertMessage(route: "security", violations: vs)
        #expect(message.count == 3 && message.isGroup)
        #expect(message.first.rfc3339 == "2026-03-01T10:00:00Z" && message.last.rfc3339 == "2026-03-01T10:04:30Z")
        #expect(message.id == "v1" && message.violationIDs == ["v1", "v2", "v3"])
        #expect(message.summary.contains("3 violations by actor alice between 2026-03-01T10:00:00Z and 2026-03-01T10:04:30Z"))
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test(arguments: [
        (200, DeliveryOutcome.delivered), (202, .delivered), (500, .retry(after: nil, reason: "HTTP 500")),
        (503, .retry(after: nil, reason: "HTTP 503")), (408, .retry(after: nil, reason: "HTTP 408")),
        (429, .retry(after: nil, reason: "HTTP 429")), (400, .rejected(reason: "HTTP 400")),
        (404, .rejected(reason: "HTTP 404")),
    ])
    func classifiesStatuses(_ status: Int, _ expected: DeliveryOutcome) {
        #expect(RetryPolicy.outcome(status: status, retryAfter: nil) == expected)
    }

    @Test func readsRetryAfterAsSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_784_000_000)  // 2026-07-14T03:33:20Z
        #expect(RetryPolicy.outcome(status: 429, retryAfter: "7", now: now) == .retry(after: .seconds(7), reason: "HTTP 429"))
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Jul 2026 03:33:50 GMT", now: now) == .seconds(30))
        #expect(RetryPolicy.parseRetryAfter("soon", now: now) == nil)
    }

    @Test func retryAfterIsHonouredUpToAnHour() {
        let now = Date(timeIntervalSince1970: 1_784_000_000)
        #expect(RetryPolicy.parseRetryAfter("99999999999999999", now: now) == .seconds(3600))
        #expect(RetryPolicy.parseRetryAfter("999999999999999999999999", now: now) == .seconds(3600), "beyond Int64")
        #expect(RetryPolicy.parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now: now) == .seconds(3600))
        #expect(RetryPolicy.parseRetryAfter("1800", now: now) == .seconds(1800))
        #expect(RetryPolicy().delay(attempt: 0, retryAfter: .seconds(99_999_999_999_999_999)) == .seconds(3600))
        #expect(Swift.Duration.clamped(seconds: 1e20) == .seconds(86_400))
        #expect(Swift.Duration.clamped(seconds: -5) == .zero && Swift.Duration.clamped(seconds: .nan) == .zero)
    }

    @Test func backsOffExponentiallyWithJitterUpToTheCapAndHonoursRetryAfter() {
        let policy = RetryPolicy(base: .seconds(1), cap: .seconds(60))
        var generator = SystemRandomNumberGenerator()
        for attempt in 0..<12 {
            let full = min(Swift.Duration.seconds(60), .seconds(1 << attempt))
            for _ in 0..<20 {
                let d = policy.delay(attempt: attempt, retryAfter: nil, using: &generator)
                #expect(d >= full / 2 && d <= full, "attempt \(attempt): \(d)")
            }
        }
        #expect(policy.delay(attempt: 9, retryAfter: .seconds(2)) == .seconds(2))
    }
}
