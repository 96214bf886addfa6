import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// systemd's notify protocol (sd_notify(3)): datagrams such as `READY=1` to the socket `NOTIFY_SOCKET` names (a
/// path, or an abstract name after `@`). Without `NOTIFY_SOCKET` (not started by systemd with `Type=notify`) there
/// is no notifier.
public struct SystemdNotifier: Sendable {
    public let socketPath: String

    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], path.count > 1, path.hasPrefix("/") || path.hasPrefix("@") else {
            return nil
        }
        socketPath = path
    }

    /// Sends one state (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=…`); false when it could not be sent.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(fd, payload, payload.count, Int32(MSG_NOSIGNAL), sa, length)
            }
        }
        return sent == payload.count
    }

    /// Half of `WATCHDOG_USEC` when the watchdog is meant for this process (`WATCHDOG_PID` unset or ours).
    public static func watchdogInterval(environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { return nil }
        return .microseconds(usec / 2)
    }
}

/// Keeps systemd's watchdog fed while no service has stalled past the limit (so that a stuck daemon is restarted),
/// and says `STOPPING=1` when the daemon shuts down. `READY=1` is sent by `DaemonApp` once it serves HTTP.
struct SystemdWatchdog: Service {
    let notifier: SystemdNotifier
    let interval: Duration?
    let status: DaemonStatus
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if interval != nil {
                        if let stall = status.stall {
                            logger.error("not feeding the systemd watchdog", metadata: ["stall": "\(stall)"])
                        } else {
                            notifier.notify("WATCHDOG=1")
                        }
                    }
                    try? await Task.sleep(for: interval ?? .seconds(3600))
                }
            }
        } onGracefulShutdown: {
            notifier.notify("STOPPING=1")
        }
    }
}
