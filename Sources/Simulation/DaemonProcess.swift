import AsyncHTTPClient
import Daemon
import NIOCore
import Foundation

/// `consentinel run` in a child process, watched from outside as an operator would: its `/metrics` and `/readyz`,
/// and its CPU time and peak memory from `/proc` (so that a benchmark's figures are the daemon's alone, not those of
/// the embedded broker in the benchmark's own process).
final class DaemonProcess {
    let process = Process()
    let port: Int
    let log: URL

    /// Starts `consentinel run --config DIR`; the pipeline's `http.port` must be `port`.
    init(pipeline: URL, port: Int) throws {
        self.port = port
        log = pipeline.appendingPathComponent("daemon.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        process.arguments = ["run", "--config", pipeline.path, "--log-level", "warning"]
        let out = try FileHandle(forWritingTo: log)
        process.standardOutput = out
        process.standardError = out
        try process.run()
    }

    static func executable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    var isRunning: Bool { process.isRunning }

    /// Waits until `/readyz` answers 200.
    func waitUntilReady(timeout: Swift.Duration) async throws {
        try await wait(timeout: timeout, for: "ready") {
            if let (status, _) = try? await get("/readyz") { status == 200 } else { false }
        }
    }

    /// Waits until the daemon owns partitions: readiness does not mean that (a spare replica is ready too), and
    /// traffic sent before the group has assigned them waits for the rebalance.
    func waitUntilAssigned(timeout: Swift.Duration) async throws {
        try await wait(timeout: timeout, for: "assigned partitions") {
            (await metric(DaemonMetrics.Name.assignedPartitions) ?? 0) > 0
        }
    }

    private func wait(timeout: Swift.Duration, for what: String, until done: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isRunning else { throw BenchmarkError("the daemon exited: \(tail())") }
            if await done() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchmarkError("the daemon was not \(what) within \(timeout): \(tail())")
    }

    /// The value of a counter or gauge without labels in `/metrics`, or nil while it is not exported yet.
    func metric(_ name: String) async -> Double? {
        guard let (status, body) = try? await get("/metrics"), status == 200 else { return nil }
        for line in body.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// User plus system CPU seconds of the daemon so far.
    var cpuSeconds: Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        // Fields after the command name; utime and stime are fields 14 and 15 of the whole line.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The daemon's peak resident memory so far (`VmHWM`), in bytes.
    var peakResidentBytes: Int { ProcessStats.peakResidentBytes(pid: process.processIdentifier) }

    /// SIGTERM, then waits for the exit (SIGKILL after `timeout`).
    func stop(timeout: Swift.Duration = .seconds(60)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The last lines of the daemon's log, for errors.
    func tail() -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }

    private func get(_ path: String) async throws -> (Int, String) {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// A TCP port nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchmarkError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BenchmarkError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
