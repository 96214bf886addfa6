import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A real HTTP server started by a test: it records every POST (path, body, headers, time) and answers from a
/// script (a status and optional `Retry-After` per request, then 200).
final class AlertReceiver: Sendable {
    struct Received: Sendable {
        var path: String
        var body: String
        var status: Int
        var at: Date
        /// By lower-case name.
        var headers: [String: String] = [:]

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    struct Answer: Sendable {
        var status: Int
        var retryAfter: String?
        init(_ status: Int, retryAfter: String? = nil) {
            self.status = status
            self.retryAfter = retryAfter
        }
    }

    private struct State {
        var received: [Received] = []
        var scripts: [String: [Answer]] = [:]
        var port = 0
    }

    private let state = Mutex(State())
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)
    var port: Int { state.withLock { $0.port } }

    /// Starts the server on 127.0.0.1 and a free port.
    static func start() async throws -> AlertReceiver {
        let receiver = AlertReceiver()
        let router = Router()
        for path in ["/hook", "/slack", "/pagerduty", "/other"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                return receiver.answer(path: path, body: String(buffer: body), headers: headers)
            }
        }
        let (bound, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "alert-receiver")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        receiver.task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        for await port in bound {
            receiver.state.withLock { $0.port = port }
            break
        }
        return receiver
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Answers for the next requests to `path`; after them, 200.
    func script(_ path: String, _ answers: [Answer]) { state.withLock { $0.scripts[path, default: []] += answers } }

    /// Drops what is left of the answers for `path`.
    func clearScript(_ path: String) async { state.withLock { $0.scripts[path] = [] } }

    var received: [Received] { state.withLock { $0.received } }

    /// The requests answered with a 2xx.
    func accepted(_ path: String) -> [Received] {
        received.filter { $0.path == path && (200..<300).contains($0.status) }
    }

    func stop() async {
        let task = self.task.withLock { $0 }
        task?.cancel()
        _ = try? await task?.value
    }

    private func answer(path: String, body: String, headers received: [String: String]) -> Response {
        state.withLock { state in
            let answer = state.scripts[path]?.isEmpty == false ? state.scripts[path]!.removeFirst() : Answer(200)
            state.received.append(Received(path: path, body: body, status: answer.status, at: Date(), headers: received))
            var headers = HTTPFields()
            if let retryAfter = answer.retryAfter { headers[.retryAfter] = retryAfter }
            return Response(status: .init(code: answer.status), headers: headers)
        }
    }
}

/// Waits until `condition` holds, checking every 50 ms, for at most `seconds`; returns whether it held.
func eventually(seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
