@testable import Alerts
import Foundation
import Logging
import Storage
import Synchronization
import Testing

@testable import Daemon
@testable import Rules

/// The daemon's delivery loop against a real HTTP server and a real (SQLite) state store.
@Suite("Durable delivery")
struct AlertDeliveryTests {
    /// A SQLite store in a fresh folder; `reopen` opens the same file again (a restart).
    struct StoreFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)/state.db").path
        func open() throws -> SQLiteStateStore { try SQLiteStateStore(path: path) }
    }

    func destination(_ server: AlertReceiver, route: AlertRoute, path: String, name: String = "webhook") -> AlertDispatcher.Destination {
        let settings = AlertChannelSettings(name: name, kind: .webhook(url: Secret(server.url(path)), headers: []))
        return AlertDispatcher.Destination(
            name: "\(route.name)/\(name)", route: route, settings: settings, channel: HTTPAlertChannel(settings)!)
    }

    func rows(_ ids: [String], destination: String, actor: (Int) -> String = { _ in "alice" }) -> [AlertRow] {
        ids.enumerated().map { i, id in
            let v = violation(id, actor: actor(i))
            return AlertRow(
                id: "\(destination)#\(id)", destination: destination, group: AlertViolation(v).group,
                value: Array(v.json.serialized.utf8))
        }
    }

    /// Runs a dispatcher until `body` returns, then stops it.
    func running<T>(
        _ store: any StateStore, _ destinations: [AlertDispatcher.Destination], metrics: DaemonMetrics = DaemonMetrics(),
        owner: String = "test-instance", _ body: (AlertDispatcher) async throws -> T
    ) async throws -> T {
        let dispatcher = AlertDispatcher(
            store: store, destinations: destinations, retry: RetryPolicy(base: .milliseconds(50), cap: .milliseconds(400)),
            metrics: metrics, logger: Logger(label: "test"), owner: owner, pollInterval: .milliseconds(50))
        let task = Task { try await dispatcher.run() }
        defer { task.cancel() }
        let result = try await body(dispatcher)
        task.cancel()
        _ = try? await task.value
        return result
    }

    /// Waits until the dispatcher's loops have made `n` more passes: each has looked for due alerts again since.
    func passes(_ dispatcher: AlertDispatcher, _ n: Int) async -> Bool {
        let start = dispatcher.loopPasses
        return await eventually { dispatcher.loopPasses >= start + n }
    }

    func ids(_ received: [AlertReceiver.Received]) -> [String] {
        received.flatMap { ($0.json["violation_ids"] as? [String]) ?? [] }
    }

    @Test func a500ForAWhileThen200DeliversEveryAlertOnceAcrossARestart() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/hook", Array(repeating: .init(500), count: 4))
        let file = StoreFile()
        let route = AlertRoute(name: "security", minSeverity: .high, channels: [])
        let expected = (1...6).map { "v-\($0)" }
        var store = try file.open()
        try await store.commit(BatchCommit(alerts: rows(expected, destination: "security/webhook")), pipeline: "p")
        let metrics = DaemonMetrics()
        // First run: only 500s, then a "crash" (the dispatcher stops; the store is closed).
        try await running(store, [destination(server, route: route, path: "/hook")], metrics: metrics) { _ in
            #expect(await eventually { server.received.count >= 3 })
        }
        await store.close()
        #expect(server.accepted("/hook").isEmpty)
        #expect(metrics.text.contains(#"consentinel_alert_retries_total{route="security",channel="webhook"}"#))
        // Restart on the same file: the rest of the 500s, then every alert arrives, once.
        store = try file.open()
        #expect(try await store.alertDepths() == ["security/webhook": 6])
        try await running(store, [destination(server, route: route, path: "/hook")], metrics: metrics) { _ in
            #expect(await eventually { ids(server.accepted("/hook")).count >= 6 })
            #expect(await eventually { (try? await store.alertDepths().isEmpty) == true })
        }
        // Queuing the same violations again (a re-processed batch) sends nothing more.
        try await store.commit(BatchCommit(alerts: rows(expected, destination: "security/webhook")), pipeline: "p")
        try await running(store, [destination(server, route: route, path: "/hook")]) { dispatcher async throws in
            #expect(await passes(dispatcher, 10))
        }
        await store.close()
        #expect(ids(server.accepted("/hook")).sorted() == expected.sorted())
        #expect(server.received.filter { $0.status == 500 }.count == 4)
        #expect(metrics.text.contains(#"consentinel_alerts_sent_total{route="security",channel="webhook"} 6"#))
    }

    @Test func retryAfterIsHonoured() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/hook", [.init(429, retryAfter: "2")])
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        try await store.enqueueAlerts(rows(["v-1", "v-2"], destination: "security/webhook"))
        try await running(store, [destination(server, route: route, path: "/hook")]) { _ in
            #expect(await eventually { server.accepted("/hook").count == 2 })
        }
        await store.close()
        let received = server.received
        try #require(received.count == 3)
        #expect(received[0].status == 429)
        // The base delay is 50 ms: only Retry-After explains a 2-second pause, for the whole channel.
        #expect(received[1].at.timeIntervalSince(received[0].at) >= 1.95)
        #expect(received[2].at >= received[1].at)
        #expect(ids(server.accepted("/hook")) == ["v-1", "v-2"])
    }

    @Test func aDeadChannelDoesNotHoldBackTheOthers() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/other", Array(repeating: .init(503), count: 10_000))
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        let expected = (1...20).map { "v-\($0)" }
        try await store.commit(
            BatchCommit(alerts: rows(expected, destination: "security/dead") + rows(expected, destination: "security/webhook")),
            pipeline: "p")
        let metrics = DaemonMetrics()
        try await running(
            store,
            [destination(server, route: route, path: "/other", name: "dead"), destination(server, route: route, path: "/hook")],
            metrics: metrics
        ) { _ in
            #expect(await eventually { ids(server.accepted("/hook")).count == 20 })
            #expect(await eventually { metrics.text.contains(#"consentinel_alert_queue_depth{route="security",channel="dead"} 20"#) })
            // The last message is marked delivered just after the server has taken it.
            #expect(await eventually { (try? await store.alertDepths()) == ["security/dead": 20] })
        }
        #expect(try await store.alertDepths() == ["security/dead": 20])
        await store.close()
        #expect(ids(server.accepted("/hook")) == expected)
    }

    @Test func aRefusalIsSetAsideAndCountedNotRetried() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/hook", [.init(400)])
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        try await store.enqueueAlerts(rows(["v-1", "v-2"], destination: "security/webhook"))
        let metrics = DaemonMetrics()
        try await running(store, [destination(server, route: route, path: "/hook")], metrics: metrics) { dispatcher async throws in
            #expect(await eventually { server.accepted("/hook").count == 1 })
            #expect(await passes(dispatcher, 6))
        }
        #expect(try await store.alertDepths().isEmpty)
        await store.close()
        #expect(server.received.count == 2)
        #expect(metrics.text.contains(#"consentinel_alerts_failed_total{route="security",channel="webhook"} 1"#))
    }

    @Test func aWindowSendsOneMessagePerRuleAndActorWithTheCount() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", window: .seconds(1), channels: [])
        let ids = (1...5).map { "v-\($0)" }
        // Before the commit: the window runs from when the alerts are queued, in the commit.
        let started = Date()
        // v-1…v-4 by alice, v-5 by bob.
        try await store.commit(
            BatchCommit(alerts: rows(ids, destination: "security/webhook", actor: { $0 < 4 ? "alice" : "bob" })),
            pipeline: "p")
        let metrics = DaemonMetrics()
        try await running(store, [destination(server, route: route, path: "/hook")], metrics: metrics) { dispatcher async throws in
            #expect(await eventually { server.accepted("/hook").count == 2 })
            #expect(await passes(dispatcher, 6))
        }
        await store.close()
        let messages = server.accepted("/hook").map(\.json).sorted { ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "") }
        try #require(messages.count == 2)
        #expect(messages[0]["count"] as? Int == 4 && messages[0]["violation_ids"] as? [String] == ["v-1", "v-2", "v-3", "v-4"])
        #expect(messages[1]["count"] as? Int == 1 && messages[1]["violation_ids"] as? [String] == ["v-5"])
        #expect(server.received[0].at.timeIntervalSince(started) >= 0.9, "a group waits for its window to close")
        #expect(metrics.text.contains(#"consentinel_alerts_grouped_total{route="security",channel="webhook"} 4"#))
        #expect(metrics.text.contains(#"consentinel_alert_messages_total{route="security",channel="webhook"} 2"#))
    }

    @Test func pagerDutyAutoResolveFollowsTheTrigger() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let store = try StoreFile().open()
        let settings = AlertChannelSettings(
            name: "pagerduty",
            kind: .pagerDuty(routingKey: Secret("KEY"), url: server.url("/pagerduty"), autoResolve: .milliseconds(200)))
        let route = AlertRoute(name: "security", channels: [settings])
        let pd = AlertDispatcher.Destination(name: "security/pagerduty", route: route, settings: settings, channel: HTTPAlertChannel(settings)!)
        try await store.enqueueAlerts(rows(["v-1"], destination: "security/pagerduty"))
        try await running(store, [pd]) { _ in
            #expect(await eventually { server.accepted("/pagerduty").count == 2 })
        }
        await store.close()
        let bodies = server.accepted("/pagerduty").map(\.json)
        #expect(bodies.map { $0["event_action"] as? String } == ["trigger", "resolve"])
        #expect(bodies.map { $0["dedup_key"] as? String } == ["v-1", "v-1"])
    }

    /// A server's `Retry-After` far in the future (a huge number, an HTTP date in 9999) pauses the channel an hour
    /// at most, and crashes nothing.
    @Test func aHugeRetryAfterPausesTheChannelAnHourAtMost() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/hook", [.init(429, retryAfter: "99999999999999999")])
        server.script("/other", [.init(503, retryAfter: "Fri, 31 Dec 9999 23:59:59 GMT")])
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        try await store.enqueueAlerts(rows(["v-1"], destination: "security/webhook") + rows(["v-2"], destination: "security/dead"))
        let started = Date()
        try await running(
            store, [destination(server, route: route, path: "/hook"), destination(server, route: route, path: "/other", name: "dead")]
        ) { dispatcher async throws in
            #expect(await eventually { server.received.count >= 2 })
            // Both deferred (still pending, not due now) by at most an hour.
            #expect(await eventually {
                let webhook = try? await store.pendingAlerts(destination: "security/webhook", limit: 10, now: Date())
                let dead = try? await store.pendingAlerts(destination: "security/dead", limit: 10, now: Date())
                return webhook?.isEmpty == true && dead?.isEmpty == true
            })
            #expect(await passes(dispatcher, 12))
        }
        let inAnHour = started.addingTimeInterval(3600 + 60)
        for name in ["security/webhook", "security/dead"] {
            let deferred = try await store.pendingAlerts(destination: name, limit: 10, now: inAnHour)
            #expect(deferred.count == 1, "\(name) waits at most an hour")
            #expect(deferred.first.map { $0.row.notBefore! <= inAnHour } == true)
        }
        await store.close()
        #expect(server.received.count == 2)
    }

    /// A channel that records what it is sent and, at its first message, lets another instance take the lease over
    /// (as when this one stalled past its lease).
    final class LeaseStealingChannel: AlertChannel, Sendable {
        let store: any StateStore
        let lease: String
        let sent = Mutex<[String]>([])

        init(store: any StateStore, lease: String) {
            self.store = store
            self.lease = lease
        }

        func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
            let first = sent.withLock { $0.append(message.id); return $0.count == 1 }
            if first {
                _ = try? await store.acquireLease(lease, owner: "test-instance", seconds: 0)
                // The given-up lease is free once the clock has moved past it.
                var taken = false
                for _ in 0..<100 where !taken {
                    try? await Task.sleep(for: .milliseconds(20))
                    taken = (try? await store.acquireLease(lease, owner: "other-instance", seconds: 30)) == true
                }
                #expect(taken)
            }
            return .delivered
        }
    }

    @Test func anInstanceThatLostItsLeaseSendsNoFurtherMessage() async throws {
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        try await store.enqueueAlerts(rows(["v-1", "v-2", "v-3"], destination: "security/webhook"))
        let channel = LeaseStealingChannel(store: store, lease: "alerts:security/webhook")
        let settings = AlertChannelSettings(name: "webhook", kind: .standardError)
        let d = AlertDispatcher.Destination(name: "security/webhook", route: route, settings: settings, channel: channel)
        try await running(store, [d]) { dispatcher async throws in
            #expect(await eventually { !channel.sent.withLock { $0 }.isEmpty })
            // Many passes: none sends, the other instance holds the lease.
            #expect(await passes(dispatcher, 20))
        }
        #expect(channel.sent.withLock { $0 } == ["v-1"])
        #expect(try await store.alertDepths() == ["security/webhook": 2], "the rest is left to the lease holder")
        await store.close()
    }

    @Test func alertsOfAChannelNoLongerConfiguredAreReportedAtStart() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        try await store.enqueueAlerts(rows(["v-1", "v-2", "v-3"], destination: "old/slack") + rows(["v-1"], destination: "security/webhook"))
        let metrics = DaemonMetrics()
        try await running(store, [destination(server, route: route, path: "/hook")], metrics: metrics) { _ in
            #expect(await eventually { server.accepted("/hook").count == 1 })
            #expect(await eventually { metrics.text.contains(#"consentinel_alert_queue_depth{route="security",channel="webhook"} 0"#) })
        }
        await store.close()
        #expect(metrics.text.contains(#"consentinel_alerts_orphaned{destination="old/slack"} 3"#))
        #expect(!metrics.text.contains(#"channel="slack""#), "an orphan has no queue-depth gauge of a configured channel")
    }

    /// `max_queue` 3 and a channel down: the queue stops at 3, the rest is set aside and counted; once the channel is
    /// back, the 3 queued arrive once and one message reports the 5 set aside.
    @Test func aChannelOverItsBoundSetsAlertsAsideAndReportsThemOnce() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/hook", Array(repeating: .init(503), count: 100_000))
        let store = try StoreFile().open()
        let route = AlertRoute(name: "security", channels: [])
        var d = destination(server, route: route, path: "/hook")
        d.settings.maxQueue = 3
        let expected = (1...8).map { "v-\($0)" }
        try await store.enqueueAlerts(rows(expected, destination: "security/webhook", actor: { "actor-\($0)" }))
        let metrics = DaemonMetrics()
        try await running(store, [d], metrics: metrics) { dispatcher async throws in
            #expect(await eventually {
                metrics.text.contains(#"consentinel_alerts_set_aside_total{route="security",channel="webhook"} 5"#)
            })
            #expect(try await store.alertDepths() == ["security/webhook": 3])
            await server.clearScript("/hook")
            #expect(await eventually { server.accepted("/hook").count >= 4 })
            // More passes: nothing more arrives.
            #expect(await passes(dispatcher, 20))
        }
        let accepted = server.accepted("/hook").map(\.json)
        let notices = accepted.filter { ($0["rule"] as? String) == "consentinel.alerts_set_aside" }
        #expect(notices.count == 1)
        #expect((notices.first?["summary"] as? String)?.contains("5 alerts for security/webhook were set aside") == true)
        #expect(ids(server.accepted("/hook")).filter { $0.hasPrefix("v-") } == ["v-1", "v-2", "v-3"])
        #expect(accepted.count == 4)
        #expect(try await store.alertDepths().isEmpty)
        #expect(try await store.setAsideSummary(destination: "security/webhook") == nil)
        await store.close()
    }
}
