import Hummingbird
import Logging
import NIOCore
import Portal
import Synchronization

/// What `/healthz` and `/readyz` answer. Live: no service has been stuck in one stage of its loop for
/// `stallLimit` (a restart would help). Ready: this instance can do its share of the work: the state store and the
/// Kafka cluster answered the last probe, the store takes the pipeline's writes and it is not stopping; it need not own a partition (a spare replica is
/// ready, and a rebalance takes no instance out of service).
public final class DaemonStatus: Sendable {
    private struct State {
        var assigned = 0
        var loading = 0
        var stopping = false
        var storeReachable: Bool?
        var kafkaReachable: Bool?
        var storeWritesFailing = false
        var watches: [StallWatch] = []
    }

    private let state = Mutex(State())
    public let stallLimit: Duration

    public init(stallLimit: Duration = DaemonStatus.defaultStallLimit) {
        self.stallLimit = stallLimit
    }

    public static let defaultStallLimit = Duration.seconds(120)

    public var isReady: Bool {
        state.withLock { $0.storeReachable == true && $0.kafkaReachable == true && !$0.storeWritesFailing && !$0.stopping }
    }
    /// The pipeline could not commit to the store and waits until it can (not ready meanwhile).
    public func storeWrites(failing: Bool) { state.withLock { $0.storeWritesFailing = failing } }
    public func loadingStarted() { state.withLock { $0.loading += 1 } }
    public func loaded(assignedPartitions: Int) { state.withLock { $0.loading -= 1; $0.assigned = assignedPartitions } }
    public func assigned(_ n: Int) { state.withLock { $0.assigned = n } }
    public func stopping() { state.withLock { $0.stopping = true } }
    public func probed(store: Bool? = nil, kafka: Bool? = nil) {
        state.withLock { s in
            if let store { s.storeReachable = store }
            if let kafka { s.kafkaReachable = kafka }
        }
    }
    func watch(_ watch: StallWatch) { state.withLock { $0.watches.append(watch) } }

    /// The first service stuck past `stallLimit`, as a sentence; nil while every service makes progress.
    public var stall: String? { stall(at: .now) }

    func stall(at now: ContinuousClock.Instant) -> String? {
        for watch in state.withLock({ $0.watches }) {
            if let (stage, elapsed) = watch.busy(at: now), elapsed >= stallLimit {
                return "\(watch.service) stalled in '\(stage)' for \(elapsed.components.seconds)s"
            }
        }
        return nil
    }

    public var summary: String {
        state.withLock {
            func word(_ b: Bool?) -> String { b.map { $0 ? "yes" : "no" } ?? "unknown" }
            return "store=\(word($0.storeReachable)) kafka=\(word($0.kafkaReachable)) assigned=\($0.assigned) "
                + "loading=\($0.loading) stopping=\($0.stopping) store_writes=\($0.storeWritesFailing ? "failing" : "ok")"
        }
    }
}

/// The HTTP side of the daemon: `/healthz`, `/readyz`, `/metrics`, on the configured address.
public enum AdminServer {
    /// Builds the HTTP application; `onBound` learns the port actually bound (for port 0).
    public static func make(
        host: String, port: Int, metrics: DaemonMetrics, status: DaemonStatus, logger: Logger,
        onBound: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            let stall = status.stall
            return Response(
                status: stall == nil ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: (stall ?? "ok") + "\n")))
        }
        router.get("/readyz") { _, _ in
            let ready = status.isReady
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: (ready ? "ready " : "not ready ") + status.summary + "\n")))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.text)))
        }
        return application(router, host: host, port: port, logger: logger, onBound: onBound)
    }

    /// The customer portal on its own listener, so that it can be exposed to customers while health and metrics
    /// stay inside.
    public static func portal(
        host: String, port: Int, portal: Portal, logger: Logger, onBound: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        portal.routes(router)
        return application(router, host: host, port: port, logger: logger, onBound: onBound)
    }

    private static func application(
        _ router: Router<BasicRequestContext>, host: String, port: Int, logger: Logger,
        onBound: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "consentinel"),
            onServerRunning: { channel in await onBound(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
