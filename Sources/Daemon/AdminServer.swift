import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Whether the daemon can do its work: `/readyz` answers 200 once partitions are assigned and their state loaded.
public final class DaemonStatus: Sendable {
    private struct State {
        var assigned = 0
        var loading = 0
        var stopping = false
    }

    private let state = Mutex(State())

    public init() {}

    public var isReady: Bool { state.withLock { $0.assigned > 0 && $0.loading == 0 && !$0.stopping } }
    public func loadingStarted() { state.withLock { $0.loading += 1 } }
    public func loaded(assignedPartitions: Int) { state.withLock { $0.loading -= 1; $0.assigned = assignedPartitions } }
    public func assigned(_ n: Int) { state.withLock { $0.assigned = n } }
    public func stopping() { state.withLock { $0.stopping = true } }
    public var summary: String {
        state.withLock { "assigned=\($0.assigned) loading=\($0.loading) stopping=\($0.stopping)" }
    }
}

/// The HTTP side of the daemon: `/healthz`, `/readyz`, `/metrics`, on the configured address.
public enum AdminServer {
    /// Builds the HTTP application; `onBound` learns the port actually bound (for port 0).
    public static func make(
        host: String, port: Int, metrics: DaemonMetrics, status: DaemonStatus, logger: Logger,
        extraRoutes: (Router<BasicRequestContext>) -> Void = { _ in },
        onBound: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
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
        extraRoutes(router)
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "consentinel"),
            onServerRunning: { channel in await onBound(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
