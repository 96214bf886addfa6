import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A forward HTTP proxy started by a test, as AsyncHTTPClient uses one: it takes `CONNECT host:port`, records the
/// request (target and headers), answers 200 and tunnels the bytes both ways to the target.
final class TestProxy: Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        /// By lower-case name.
        var headers: [String: String]
    }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    let port: Int
    private let server: any Channel
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let recorded = Mutex<[Request]>([])

    var requests: [Request] { recorded.withLock { $0 } }

    private init(port: Int, server: any Channel) {
        self.port = port
        self.server = server
    }

    /// Starts the proxy on 127.0.0.1 and a free port.
    static func start() async throws -> TestProxy {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
            }
        let proxy = TestProxy(port: listener.channel.localAddress?.port ?? 0, server: listener.channel)
        proxy.task.withLock {
            $0 = Task {
                try? await withThrowingDiscardingTaskGroup { group in
                    try await listener.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { try? await proxy.serve(connection) }
                        }
                    }
                }
            }
        }
        return proxy
    }

    /// `http://127.0.0.1:PORT`, with `user:password@` when given.
    func url(credentials: String? = nil) -> String {
        "http://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)"
    }

    func stop() async {
        try? await server.close()
        let task = self.task.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    private func serve(_ connection: Connection) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            var head: [UInt8] = []
            var rest: [UInt8] = []
            while true {
                guard var buffer = try await iterator.next() else { return }
                head += buffer.readBytes(length: buffer.readableBytes) ?? []
                if let end = head.firstRange(of: [13, 10, 13, 10]) {
                    rest = Array(head[end.upperBound...])
                    head = Array(head[..<end.lowerBound])
                    break
                }
            }
            let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
            let requestLine = lines[0].split(separator: " ").map(String.init)
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            guard requestLine.count == 3 else { return }
            recorded.withLock { $0.append(Request(method: requestLine[0], target: requestLine[1], headers: headers)) }
            guard requestLine[0] == "CONNECT", let colon = requestLine[1].lastIndex(of: ":"),
                let port = Int(requestLine[1][requestLine[1].index(after: colon)...])
            else {
                try await outbound.write(ByteBuffer(string: "HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n"))
                return
            }
            let target = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: String(requestLine[1][..<colon]), port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
                }
            try await target.executeThenClose { targetInbound, targetOutbound in
                try await outbound.write(ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n"))
                if !rest.isEmpty { try await targetOutbound.write(ByteBuffer(bytes: rest)) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await buffer in targetInbound { try await outbound.write(buffer) }
                    }
                    while let buffer = try await iterator.next() { try await targetOutbound.write(buffer) }
                    group.cancelAll()
                }
            }
        }
    }
}
