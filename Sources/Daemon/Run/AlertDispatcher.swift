import Alerts
import Events
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Storage

/// Delivers queued alerts: one loop per destination (`ROUTE/CHANNEL`), so a channel that is down holds back only its
/// own alerts. Each round reads the destination's pending alerts (at most `batchLimit`), groups them by the route's
/// window, and sends each due message; a delivered message marks its alerts delivered, a retryable failure defers
/// them (exponential backoff with jitter, or the server's `Retry-After`) and pauses the channel as long, a refusal
/// sets them aside. A lease in the store lets one instance at a time deliver a destination.
final class AlertDispatcher: Service {
    struct Destination: Sendable {
        var name: String
        var route: AlertRoute
        var settings: AlertChannelSettings
        var channel: any AlertChannel
    }

    let store: any StateStore
    let destinations: [Destination]
    let retry: RetryPolicy
    let metrics: DaemonMetrics
    let logger: Logger
    let owner: String
    /// How often an idle destination looks for new alerts.
    let pollInterval: Swift.Duration
    let batchLimit = 500

    init(
        store: any StateStore, destinations: [Destination], retry: RetryPolicy, metrics: DaemonMetrics, logger: Logger,
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
    static func destinations(_ settings: AlertSettings, producer: Producer?) throws(DaemonError) -> [Destination] {
        var out: [Destination] = []
        for (name, route, channel) in settings.destinations {
            out.append(Destination(name: name, route: route, settings: channel, channel: try makeChannel(channel, producer: producer)))
        }
        return out
    }

    static func makeChannel(_ settings: AlertChannelSettings, producer: Producer?) throws(DaemonError) -> any AlertChannel {
        if let http = HTTPAlertChannel(settings) { return http }
        switch settings.kind {
        case .jsonl(let path): return JSONLAlertChannel(path: path)
        case .kafka(let topic):
            guard let producer else {
                throw DaemonError(.arguments, "alert channel \(settings.name) sends to Kafka, but no Kafka producer is configured")
            }
            return KafkaAlertChannel(producer: producer, topic: topic)
        default: return StandardErrorAlertChannel()
        }
    }

    func run() async throws {
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

    private func deliver(_ destination: Destination) async {
        var pausedUntil = Date.distantPast
        var lastPrune = Date.distantPast
        var leaseRenewed = Date.distantPast
        while !stopping {
            do {
                if Date() < pausedUntil {
                    try? await Task.sleep(for: min(pollInterval * 4, .milliseconds(Int64(pausedUntil.timeIntervalSinceNow * 1000) + 1)))
                    continue
                }
                // The lease lasts 30 s and is renewed every 10 s (a write, so not every round).
                if Date().timeIntervalSince(leaseRenewed) > 10 {
                    guard try await store.acquireLease(lease(destination), owner: owner, seconds: 30) else {
                        try? await Task.sleep(for: pollInterval * 4)
                        continue
                    }
                    leaseRenewed = Date()
                }
                if Date().timeIntervalSince(lastPrune) > 600 {
                    lastPrune = Date()
                    // Delivered alerts are kept a day so that a re-processed batch cannot queue them again.
                    try await store.pruneDeliveredAlerts(before: Date().addingTimeInterval(-86_400))
                }
                let delivered = try await round(destination, pausedUntil: &pausedUntil)
                if delivered == 0 { try? await Task.sleep(for: pollInterval) }
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

    /// One round: the messages due now, in order, until one fails. Returns how many were delivered.
    func round(_ destination: Destination, pausedUntil: inout Date) async throws -> Int {
        let queued = try await store.pendingAlerts(destination: destination.name, limit: batchLimit)
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
            // A round ends well within the lease, which the next round renews.
            if Date().timeIntervalSince(started) > 10 { break }
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
                let until = Date().addingTimeInterval(Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                try await store.deferAlerts(bundle.ids, until: until, error: reason)
                metrics.alertRetried(route: labels.route, channel: labels.channel)
                logger.warning("alert delivery failed, will retry", metadata: [
                    "destination": "\(destination.name)", "error": "\(reason)", "attempt": "\(attempt + 1)",
                    "retry_in": "\(delay)", "alerts": "\(bundle.ids.count)",
                ])
                pausedUntil = until
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

    static let resolvePrefix = "resolve:"

    /// PagerDuty channels with `auto_resolve`: the resolve of a delivered trigger, queued to go out that much later.
    private func queueResolve(_ message: AlertMessage, _ destination: Destination) async throws {
        guard case .pagerDuty(_, _, let after?) = destination.settings.kind else { return }
        let seconds = Double(after.components.seconds) + Double(after.components.attoseconds) / 1e18
        try await store.enqueueAlerts([
            AlertRow(
                id: "\(destination.name)#resolve:\(message.id)", destination: destination.name,
                group: Self.resolvePrefix + message.id, value: Array(message.sample.json.serialized.utf8),
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
