import Alerts
import Foundation
import Kafka

/// `replay --alerts`: the alerts a replay collected, delivered directly through the routes' channels (no store).
/// Windows group by event time; every group is closed at the end of the replay. A message is tried `maxAttempts`
/// times (backoff with jitter, or `Retry-After`), then counted as failed.
public enum ReplayAlerts {
    public struct Report: Sendable, Equatable {
        /// Violations delivered, messages delivered and violations not delivered, by destination (`ROUTE/CHANNEL`).
        public var alerts: [String: Int] = [:]
        public var messages: [String: Int] = [:]
        public var failed: [String: Int] = [:]
        public init() {}
    }

    public static func deliver(
        _ collected: [String: [AlertAggregator.Pending]], settings: AlertSettings, producer: Producer? = nil,
        maxAttempts: Int = 8
    ) async throws(ReplayError) -> Report {
        var work: [(String, AlertRoute, any AlertChannel)] = []
        for (name, route, channel) in settings.destinations where collected[name] != nil {
            do {
                work.append((name, route, try AlertDispatcher.makeChannel(channel, producer: producer)))
            } catch {
                throw ReplayError(.arguments, error.message)
            }
        }
        let retry = settings.retry
        return await withTaskGroup(of: (String, Int, Int, Int).self) { group in
            for (name, route, channel) in work {
                let pending = collected[name] ?? []
                group.addTask {
                    var (alerts, messages, failed) = (0, 0, 0)
                    for bundle in AlertAggregator(window: route.window).all(pending) {
                        let message = AlertMessage(route: route.name, violations: bundle.violations)
                        if await send(message, channel, retry: retry, maxAttempts: maxAttempts) {
                            alerts += bundle.ids.count
                            messages += 1
                        } else {
                            failed += bundle.ids.count
                        }
                    }
                    return (name, alerts, messages, failed)
                }
            }
            var report = Report()
            for await (name, alerts, messages, failed) in group {
                report.alerts[name] = alerts
                report.messages[name] = messages
                report.failed[name] = failed
            }
            return report
        }
    }

    private static func send(
        _ message: AlertMessage, _ channel: any AlertChannel, retry: RetryPolicy, maxAttempts: Int
    ) async -> Bool {
        for attempt in 0..<maxAttempts {
            switch await channel.deliver(message) {
            case .delivered: return true
            case .rejected: return false
            case .retry(let after, _):
                guard attempt + 1 < maxAttempts else { return false }
                try? await Task.sleep(for: retry.delay(attempt: attempt, retryAfter: after))
            }
        }
        return false
    }
}
