import Events
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Storage
import Synchronization

/// What the delivery loops count (the daemon's metrics).
public protocol AlertMetrics: Sendable {
    func alertDelivered(route: String, channel: String, alerts: Int)
    func alertRetried(route: String, channel: String)
    func alertFailed(route: String, channel: String, alerts: Int)
    func alertQueue(route: String, channel: String, depth: Int)
    func alertsSetAside(route: String, channel: String, alerts: Int)
    func alertsOrphaned(destination: String, count: Int)
}

/// Delivers queued alerts: one loop per destination (`ROUTE/CHANNEL`), so a channel that is down holds back only its
/// own alerts. Each round reads the destination's due alerts (at most `batchLimit`), groups them by the route's
/// window, and sends each due message; a delivered message marks its alerts delivered, a retryable failure defers
/// them (exponential backoff with jitter, or the server's `Retry-After`, at most an hour) and pauses the channel as
/// long, a refusal marks them refused. Alerts over the channel's `max_queue` are set aside (kept, counted) and reported
/// through the channel in one message once it drains below its bound. A lease in the store lets one instance at a
/// time deliver a destination; it is checked (and renewed) before every message, and an attempt lasts at most the
/// channel's timeout (≤ 10 s, a third of the lease).
public final class AlertDispatcher: Service {
    public struct Destination: Sendable {
        var name: String
        var route: AlertRoute
        var settings: AlertChannelSettings
        var channel: any AlertChannel
    }

    /// The lease was taken over by another instance during a round: the round stops before its next message.
    struct LeaseLost: Error {}

    let store: any StateStore
    let destinations: [Destination]
    let retry: RetryPolicy
    let metrics: any AlertMetrics
    let logger: Logger
    let owner: String
    /// How often an idle destination looks for new alerts.
    let pollInterval: Swift.Duration
    let batchLimit = 500
    /// How long a destination's lease lasts; renewed before every message.
    static let leaseSeconds = 30
    private let passes = Mutex(0)

    /// Passes of the destinations' loops so far (each looks for due alerts once, or waits out a pause or a lease held
    /// elsewhere): what tells that a loop has had its chances to send, rather than a fixed wait.
    public var loopPasses: Int { passes.withLock { $0 } }

    public init(
        store: any StateStore, destinations: [Destination], retry: RetryPolicy, metrics: any AlertMetrics, logger: Logger,
        owner: String = UUID().uuidString, pollInterval: Swift.Duration = .milliseconds(250)
    ) {
        self.store = store
        self.destinations = destinations
        self.retry = retry
        self.metrics = metrics
        self.logger = logger
        self.owner = owner
        self.pollInterval = pollInterval
    }

    /// The destinations of `settings`, with the channel each one's settings make.
    public static func destinations(_ settings: AlertSettings, producer: Producer?) throws(AlertError) -> [Destination] {
        var out: [Destination] = []
        for (name, route, channel) in settings.destinations {
            out.append(Destination(name: name, route: route, settings: channel, channel: try makeChannel(channel, producer: producer)))
        }
        return out
    }

    public static func makeChannel(_ settings: AlertChannelSettings, producer: Producer?) throws(AlertError) -> any AlertChannel {
        if let http = HTTPAlertChannel(settings) { return http }
        switch settings.kind {
        case .jsonl(let path): return JSONLAlertChannel(path: path, redaction: settings.redaction)
        case .kafka(let topic):
            guard let producer else {
                throw AlertError(.settings, "alert channel \(settings.name) sends to Kafka, but no Kafka producer is configured")
            }
            return KafkaAlertChannel(producer: producer, topic: topic, timeout: settings.timeout, redaction: settings.redaction)
        default: return StandardErrorAlertChannel(redaction: settings.redaction)
        }
    }

    /// Destinations the store holds pending alerts for that are not configured (a route or channel removed or
    /// renamed), with how many: never delivered, so reported once at start (a warning and
    /// `consentinel_alerts_orphaned{destination}`).
    public func reportOrphans() async -> [String: Int] {
        guard let depths = try? await store.alertDepths() else { return [:] }
        let configured = Set(destinations.map(\.name))
        let orphans = depths.filter { !configured.contains($0.key) && $0.value > 0 }
        for (name, count) in orphans { metrics.alertsOrphaned(destination: name, count: count) }
        if !orphans.isEmpty {
            logger.warning(
                """
                alerts are queued for channels no longer configured: they will not be delivered (every violation is \
                in the violations outputs); configure the channel again to deliver them
                """,
                metadata: ["destinations": .dictionary(orphans.mapValues { .stringConvertible($0) })])
        }
        return orphans
    }

    public func run() async throws {
        _ = await reportOrphans()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for destination in destinations {
                    group.addTask { await self.deliver(destination) }
                }
                group.addTask { await self.watchDepths() }
            }
        } onGracefulShutdown: {}
    }

    private var stopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    /// What a destination's loop keeps between rounds.
    struct LoopState {
        var pausedUntil = Date.distantPast
        var leaseRenewed = Date.distantPast
        var lastPrune = Date.distantPast
        var lastBound = Date.distantPast
        /// Whether alerts set aside may wait to be reported (checked once at start, then after setting some aside).
        var summaryPending = true
        var summaryAttempts = 0
    }

    private func deliver(_ destination: Destination) async {
        var state = LoopState()
        while !stopping {
            defer { passes.withLock { $0 += 1 } }
            do {
                // The lease lasts 30 s; renewed every 10 s while idle or paused, and before every message.
                if Date().timeIntervalSince(state.leaseRenewed) > 10 {
                    guard try await holdLease(destination) else {
                        try? await Task.sleep(for: pollInterval * 4)
                        continue
                    }
                    state.leaseRenewed = Date()
                }
                if Date().timeIntervalSince(state.lastBound) >= 1 {
                    state.lastBound = Date()
                    try await applyBound(destination, &state)
                }
                if Date() < state.pausedUntil {
                    let left = Swift.Duration.clamped(seconds: state.pausedUntil.timeIntervalSinceNow)
                    try? await Task.sleep(for: min(pollInterval * 4, left + .milliseconds(1)))
                    continue
                }
                if Date().timeIntervalSince(state.lastPrune) > 600 {
                    state.lastPrune = Date()
                    // Delivered alerts are kept a day so that a re-processed batch cannot queue them again.
                    try await store.pruneDeliveredAlerts(before: Date().addingTimeInterval(-86_400))
                }
                var delivered = try await round(destination, &state)
                if state.summaryPending, Date() >= state.pausedUntil {
                    delivered += try await reportSetAside(destination, &state)
                }
                if delivered == 0 { try? await Task.sleep(for: pollInterval) }
            } catch is LeaseLost {
                logger.warning("alert channel taken over by another instance", metadata: ["destination": "\(destination.name)"])
                state.leaseRenewed = .distantPast
                try? await Task.sleep(for: pollInterval * 4)
            } catch {
                logger.error("alert queue unavailable", metadata: ["destination": "\(destination.name)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        // Let another instance take over at once rather than when the lease runs out.
        // (Detached: when the daemon is cancelled rather than stopped, this still runs.)
        let (store, name, owner) = (store, lease(destination), owner)
        await Task.detached { _ = try? await store.acquireLease(name, owner: owner, seconds: 0) }.value
    }

    private func lease(_ destination: Destination) -> String { "alerts:\(destination.name)" }

    /// Takes or renews the destination's lease; false while another instance holds it.
    private func holdLease(_ destination: Destination) async throws -> Bool {
        try await store.acquireLease(lease(destination), owner: owner, seconds: Self.leaseSeconds)
    }

    /// Before each message: renews the lease, or throws `LeaseLost` when another instance holds it now. With the
    /// channel's timeout at most a third of the lease, a message sent under the lease is done before it runs out.
    private func checkLease(_ destination: Destination, _ state: inout LoopState) async throws {
        guard try await holdLease(destination) else { throw LeaseLost() }
        state.leaseRenewed = Date()
    }

    /// Sets aside the destination's alerts over its `max_queue` (kept in the store, counted, logged).
    private func applyBound(_ destination: Destination, _ state: inout LoopState) async throws {
        // A read first: the write (a lock on SQLite) only when the queue is over its bound.
        guard (try await store.alertDepths()[destination.name] ?? 0) > destination.settings.maxQueue else { return }
        let setAside = try await store.setAsideAlerts(
            destination: destination.name, keep: destination.settings.maxQueue, at: Date())
        guard setAside > 0 else { return }
        state.summaryPending = true
        metrics.alertsSetAside(route: destination.route.name, channel: destination.settings.name, alerts: setAside)
        logger.warning(
            """
            alert queue full: alerts set aside (kept in the store; reported through the channel once it drains; \
            every violation is in the violations outputs)
            """,
            metadata: [
                "destination": "\(destination.name)", "set_aside": "\(setAside)",
                "max_queue": "\(destination.settings.maxQueue)",
            ])
    }

    /// Once the destination is below its bound: one message through the channel that says how many alerts were set
    /// aside, when, and where they are. Returns 1 when it was delivered.
    private func reportSetAside(_ destination: Destination, _ state: inout LoopState) async throws -> Int {
        guard let summary = try await store.setAsideSummary(destination: destination.name) else {
            state.summaryPending = false
            return 0
        }
        guard (try await store.alertDepths()[destination.name] ?? 0) < destination.settings.maxQueue else { return 0 }
        try await checkLease(destination, &state)
        let message = AlertMessage(
            route: destination.route.name, violations: [Self.setAsideNotice(summary, destination: destination)])
        let labels = (route: destination.route.name, channel: destination.settings.name)
        switch await destination.channel.deliver(message) {
        case .delivered:
            try await store.markSetAsideReported(destination: destination.name, through: summary.lastSeq)
            metrics.alertDelivered(route: labels.route, channel: labels.channel, alerts: 0)
            logger.info("alerts set aside reported through the channel", metadata: [
                "destination": "\(destination.name)", "set_aside": "\(summary.count)",
            ])
            state.summaryAttempts = 0
            return 1
        case .retry(let after, let reason):
            let delay = retry.delay(attempt: state.summaryAttempts, retryAfter: after)
            state.summaryAttempts += 1
            state.pausedUntil = Date().addingTimeInterval(delay.timeInterval)
            metrics.alertRetried(route: labels.route, channel: labels.channel)
            logger.warning("report of alerts set aside failed, will retry", metadata: [
                "destination": "\(destination.name)", "error": "\(reason)", "retry_in": "\(delay)",
            ])
            return 0
        case .rejected(let reason):
            try await store.markSetAsideReported(destination: destination.name, through: summary.lastSeq)
            logger.error("report of alerts set aside refused by the channel", metadata: [
                "destination": "\(destination.name)", "error": "\(reason)", "set_aside": "\(summary.count)",
            ])
            return 0
        }
    }

    /// The message that reports alerts set aside, as a violation of the pseudo-rule `consentinel.alerts_set_aside`
    /// (id `set-aside:ROUTE/CHANNEL:SEQ`, so a repeat is de-duplicated like any alert).
    static func setAsideNotice(_ summary: SetAsideSummary, destination: Destination) -> AlertViolation {
        let now = Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
        let text = "\(summary.count) alerts for \(destination.name) were set aside between "
            + "\(Timestamp(microseconds: Int64(summary.first.timeIntervalSince1970 * 1_000_000)).rfc3339) and "
            + "\(Timestamp(microseconds: Int64(summary.last.timeIntervalSince1970 * 1_000_000)).rfc3339) because more than "
            + "\(destination.settings.maxQueue) (max_queue) were waiting for this channel. Every violation is in the "
            + "violations outputs; the alerts are kept in the state store (table alerts, destination "
            + "\(destination.name), set_aside_at set) and can be queued again (docs/alerts.md)."
        let json: JSONValue = .object([
            ("id", .string("set-aside:\(destination.name):\(summary.lastSeq)")),
            ("rule", .string(setAsideRule)), ("kind", .string("alerting")), ("reason", .string("alert_queue_full")),
            ("severity", .string("high")), ("time", .string(now.rfc3339)), ("subject", .string(destination.name)),
            ("message", .string(text)), ("set_aside", .int(Int64(summary.count))),
        ])
        // The document is well-formed by construction.
        return try! AlertViolation(json: json)
    }

    static let setAsideRule = "consentinel.alerts_set_aside"

    /// One round: the messages due now, in order, until one fails. Returns how many were delivered.
    func round(_ destination: Destination, _ state: inout LoopState) async throws -> Int {
        let queued = try await store.pendingAlerts(destination: destination.name, limit: batchLimit, now: Date())
        guard !queued.isEmpty else { return 0 }
        var triggers: [AlertAggregator.Pending] = []
        var resolves: [AlertAggregator.Pending] = []
        var attempts: [String: Int] = [:]
        for alert in queued {
            attempts[alert.row.id] = alert.attempts
            do {
                let pending = AlertAggregator.Pending(
                    id: alert.row.id, group: alert.row.group, at: alert.queuedAt, notBefore: alert.row.notBefore,
                    violation: try AlertViolation(json: JSONValue.parse(String(decoding: alert.row.value, as: UTF8.self))))
                if alert.row.group.hasPrefix(Self.resolvePrefix) { resolves.append(pending) } else { triggers.append(pending) }
            } catch {
                try await store.rejectAlerts([alert.row.id], error: "\(error)")
                metrics.alertFailed(route: destination.route.name, channel: destination.settings.name, alerts: 1)
            }
        }
        let now = Date()
        let due = AlertAggregator(window: destination.route.window).due(triggers, now: now).map { ($0, AlertMessage.Action.trigger) }
            + AlertAggregator(window: nil).due(resolves, now: now).map { ($0, AlertMessage.Action.resolve) }
        var delivered = 0
        let started = Date()
        for (bundle, action) in due {
            // A round is bounded, so that the bound, the prune and the other checks of the loop get their turn.
            if Date().timeIntervalSince(started) > 10 { break }
            // Another instance may have taken the channel over (this one stalled past its lease): stop before sending.
            try await checkLease(destination, &state)
            let message = AlertMessage(route: destination.route.name, action: action, violations: bundle.violations)
            let outcome = await destination.channel.deliver(message)
            let labels = (route: destination.route.name, channel: destination.settings.name)
            switch outcome {
            case .delivered:
                try await store.markAlertsDelivered(bundle.ids)
                delivered += 1
                if action == .trigger {
                    metrics.alertDelivered(route: labels.route, channel: labels.channel, alerts: bundle.ids.count)
                    try await queueResolve(message, destination)
                } else {
                    metrics.alertDelivered(route: labels.route, channel: labels.channel, alerts: 0)
                }
            case .retry(let after, let reason):
                let attempt = bundle.ids.compactMap { attempts[$0] }.max() ?? 0
                let delay = retry.delay(attempt: attempt, retryAfter: after)
                let until = Date().addingTimeInterval(delay.timeInterval)
                try await store.deferAlerts(bundle.ids, until: until, error: reason)
                metrics.alertRetried(route: labels.route, channel: labels.channel)
                logger.warning("alert delivery failed, will retry", metadata: [
                    "destination": "\(destination.name)", "error": "\(reason)", "attempt": "\(attempt + 1)",
                    "retry_in": "\(delay)", "alerts": "\(bundle.ids.count)",
                ])
                state.pausedUntil = until
                return delivered
            case .rejected(let reason):
                try await store.rejectAlerts(bundle.ids, error: reason)
                metrics.alertFailed(route: labels.route, channel: labels.channel, alerts: bundle.ids.count)
                logger.error("alert refused by the channel; kept in the store, not retried", metadata: [
                    "destination": "\(destination.name)", "error": "\(reason)", "alerts": "\(bundle.ids.count)",
                    "violation": "\(message.id)",
                ])
            }
        }
        return delivered
    }

    static let resolvePrefix = alertResolvePrefix

    /// PagerDuty channels with `auto_resolve`: the resolve of a delivered trigger, queued to go out that much later.
    private func queueResolve(_ message: AlertMessage, _ destination: Destination) async throws {
        guard case .pagerDuty(_, _, let after?) = destination.settings.kind else { return }
        let seconds = after.timeInterval
        try await store.enqueueAlerts([
            AlertRow(
                id: "\(destination.name)#resolve:\(message.id)", destination: destination.name,
                group: Self.resolvePrefix + message.id, value: message.sample.json.bytes,
                notBefore: Date().addingTimeInterval(seconds))
        ])
    }

    private func watchDepths() async {
        while !stopping {
            if let depths = try? await store.alertDepths() {
                for destination in destinations {
                    metrics.alertQueue(
                        route: destination.route.name, channel: destination.settings.name,
                        depth: depths[destination.name] ?? 0)
                }
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }
}
