import Logging
import Synchronization

/// Says in the log when a service stays in one stage of its loop too long (a store call that hangs, a broker that
/// does not answer), so that a stall is seen rather than met with silence. Waiting for work is not a stall.
final class StallWatch: Sendable {
    private struct Stage {
        var name: String
        var since: ContinuousClock.Instant
        var warnedAt: ContinuousClock.Instant?
        var idle: Bool
    }

    let service: String
    let threshold: Duration
    /// How often a stall that lasts is reported again.
    let repeatEvery: Duration
    private let stage = Mutex(Stage(name: "starting", since: .now, warnedAt: nil, idle: true))
    /// At trace level, every stage entered is logged ("stage"), so a log shows what a killed process was doing.
    let tracer: Logger?

    init(service: String, threshold: Duration = .seconds(10), repeatEvery: Duration = .seconds(60), tracer: Logger? = nil) {
        self.repeatEvery = repeatEvery
        self.service = service
        self.threshold = threshold
        self.tracer = tracer
    }

    /// Enters a stage; `idle` stages (waiting for input) are never reported.
    func enter(_ name: String, idle: Bool = false) {
        stage.withLock { $0 = Stage(name: name, since: .now, warnedAt: nil, idle: idle) }
        tracer?.trace("stage", metadata: ["service": "\(service)", "stage": "\(name)"])
    }

    /// Runs `body` as a named stage, then marks the service idle.
    func during<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        enter(name)
        defer { enter("idle", idle: true) }
        return try await body()
    }

    /// The stage the service is stuck in and for how long, unless it is idle.
    func busy(at now: ContinuousClock.Instant = .now) -> (stage: String, elapsed: Duration)? {
        stage.withLock { s in s.idle ? nil : (s.name, now - s.since) }
    }

    /// Checks once a second until cancelled; warns after `threshold` in one stage, and again every minute, and
    /// keeps `consentinel_pipeline_stalled{service}` up to date.
    func watch(logger: Logger, metrics: DaemonMetrics? = nil) async {
        var reported: Bool?
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = ContinuousClock.now
            let stalled = busy(at: now).map { $0.elapsed >= threshold } ?? false
            if stalled != reported {
                metrics?.stalled(service: service, stalled)
                reported = stalled
            }
            let report: (String, Duration)? = stage.withLock { s in
                guard !s.idle, now - s.since >= threshold else { return nil }
                if let warned = s.warnedAt, now - warned < repeatEvery { return nil }
                s.warnedAt = now
                return (s.name, now - s.since)
            }
            if let (name, elapsed) = report {
                logger.warning("\(service) stalled", metadata: [
                    "stage": "\(name)", "seconds": "\(elapsed.components.seconds)",
                ])
            }
        }
    }
}
