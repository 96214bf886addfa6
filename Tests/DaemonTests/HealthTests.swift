@testable import Daemon
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// `/healthz` and `/readyz` over HTTP, and what `/metrics` says about the process and the build.
@Suite struct HealthTests {
    /// The admin server on a free port, running until the returned task is cancelled.
    static func serve(status: DaemonStatus, metrics: DaemonMetrics = DaemonMetrics()) async throws -> (Task<Void, Error>, String) {
        let port = Mutex(0)
        let app = AdminServer.make(
            host: "127.0.0.1", port: 0, metrics: metrics, status: status, logger: Logger(label: "health-test"),
            onBound: { p in port.withLock { $0 = p } })
        let task = Task { try await app.runService() }
        try await waitUntil("the HTTP server", timeout: .seconds(10)) { port.withLock { $0 } != 0 }
        return (task, "http://127.0.0.1:\(port.withLock { $0 })")
    }

    @Test func livenessFailsWhileAServiceIsStuckPastTheLimitAndRecovers() async throws {
        let status = DaemonStatus(stallLimit: .seconds(3))
        let pipeline = StallWatch(service: "pipeline"), publisher = StallWatch(service: "outbox publisher")
        status.watch(pipeline)
        status.watch(publisher)
        let (server, base) = try await Self.serve(status: status)
        defer { server.cancel() }

        pipeline.enter("waiting for messages", idle: true)
        publisher.enter("publishing to Kafka")
        #expect(await httpGet(base + "/healthz")?.0 == 200, "a stage younger than the limit is not a stall")
        #expect(status.stall(at: .now + .seconds(2)) == nil)
        try await waitUntil("liveness to fail", timeout: .seconds(15)) { await httpGet(base + "/healthz")?.0 == 503 }
        let body = await httpGet(base + "/healthz")?.1 ?? ""
        #expect(body.hasPrefix("outbox publisher stalled in 'publishing to Kafka' for "), "\(body)")

        publisher.enter("waiting for outputs", idle: true)
        #expect(await httpGet(base + "/healthz")?.0 == 200, "progress again: live again")
        #expect(status.stall(at: .now + .seconds(3600)) == nil, "waiting, however long, is never a stall")
    }

    @Test func readinessMeansStoreAndKafkaAnswerNotOwningAPartition() async throws {
        let status = DaemonStatus()
        let (server, base) = try await Self.serve(status: status)
        defer { server.cancel() }

        #expect(await httpGet(base + "/readyz")?.0 == 503, "nothing probed yet")
        status.probed(store: true, kafka: true)
        let ready = await httpGet(base + "/readyz")
        #expect(ready?.0 == 200, "a spare instance with no partition is ready: \(ready?.1 ?? "")")
        #expect(ready?.1 == "ready store=yes kafka=yes assigned=0 loading=0 stopping=false store_writes=ok\n")

        status.loadingStarted()
        #expect(await httpGet(base + "/readyz")?.0 == 200, "loading partitions during a rebalance keeps it ready")
        status.loaded(assignedPartitions: 3)

        status.probed(store: false)
        let storeDown = await httpGet(base + "/readyz")
        #expect(storeDown?.0 == 503 && storeDown?.1.contains("store=no") == true)
        status.probed(store: true, kafka: false)
        #expect(await httpGet(base + "/readyz")?.0 == 503)
        status.probed(kafka: true)
        #expect(await httpGet(base + "/readyz")?.0 == 200)
        status.storeWrites(failing: true)
        let writesFailing = await httpGet(base + "/readyz")
        #expect(writesFailing?.0 == 503 && writesFailing?.1.contains("store=yes") == true
                && writesFailing?.1.contains("store_writes=failing") == true, "a store that answers but takes no writes")
        status.storeWrites(failing: false)
        #expect(await httpGet(base + "/readyz")?.0 == 200)
        status.stopping()
        #expect(await httpGet(base + "/readyz")?.0 == 503)
        #expect(await httpGet(base + "/healthz")?.0 == 200, "stopping is not dead")
    }

    @Test func metricsCarryTheBuildTheProcessAndStalls() async throws {
        let metrics = DaemonMetrics()
        metrics.watermark(1_767_225_600)
        metrics.held(events: 4_200, openMonths: 2)
        metrics.stalled(service: "pipeline", true)
        let text = metrics.text
        let samples = PrometheusText.parse(text).samples
        func value(_ name: String) -> Double? { samples.first { $0.name == name }?.value }
        let info = try #require(samples.first { $0.name == "consentinel_build_info" })
        #expect(info.value == 1 && info.labels.contains("version=\"\(BuildInfo.version)\""), "\(info)")
        #expect(info.labels.contains("librdkafka=\"\(BuildInfo.librdkafka)\""))
        #expect(value("consentinel_watermark_timestamp_seconds") == 1_767_225_600)
        #expect(value("consentinel_watermark_seconds") == 1_767_225_600, "the old name stays one release")
        #expect(value("consentinel_pipeline_stalled") == 1)
        #expect(value("consentinel_buffered_events") == 4_200 && value("consentinel_digest_open_months") == 2)
        #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((value("process_open_fds") ?? 0) >= 3)
        #expect((value("process_max_fds") ?? 0) >= (value("process_open_fds") ?? .infinity))
        let start = try #require(value("process_start_time_seconds"))
        #expect(abs(start - Date().timeIntervalSince1970) < 24 * 3600, "started within a day: \(start)")
        // CPU time is a counter: it only grows.
        let cpu = try #require(value("process_cpu_seconds_total"))
        var x = 0.0
        for i in 0..<3_000_000 { x += Double(i).squareRoot() }
        #expect(x > 0)
        let later = try #require(PrometheusText.parse(metrics.text).samples.first { $0.name == "process_cpu_seconds_total" }?.value)
        #expect(later > cpu)
    }

    @Test func lagSeriesOfPartitionsNoLongerOwnedAreDropped() {
        let metrics = DaemonMetrics()
        for p in Int32(0)..<3 { metrics.lag(topic: "events", partition: p, messages: Int64(p) * 10) }
        func partitions() -> [String] {
            PrometheusText.parse(metrics.text).samples.filter { $0.name == "consentinel_consumer_lag_messages" }.map(\.labels).sorted()
        }
        #expect(partitions().count == 3)
        metrics.forgetLag(keeping: ["events/1"])
        let left = partitions()
        #expect(left.count == 1 && left[0].contains("partition=\"1\""), "\(left)")
        metrics.lag(topic: "events", partition: 2, messages: 5)
        #expect(partitions().count == 2, "assigned again: exported again")
    }

    @Test func systemdHearsReadyWatchdogAndStopping() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString).sock").path
        let receiver = try DatagramReceiver(path: path)
        defer { receiver.close() }
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) == nil)

        #expect(notifier.notify("READY=1"))
        #expect(receiver.receive() == "READY=1")

        let status = DaemonStatus(stallLimit: .milliseconds(300))
        let stuck = StallWatch(service: "pipeline")
        status.watch(stuck)
        let handler = RecordingLogHandler()
        let watchdog = SystemdWatchdog(notifier: notifier, interval: .milliseconds(100), status: status,
                                       logger: Logger(label: "watchdog-test", factory: { _ in handler }))
        let group = ServiceGroup(configuration: .init(services: [watchdog], logger: Logger(label: "group-test")))
        let running = Task { try await group.run() }
        #expect(receiver.receive() == "WATCHDOG=1")

        // Stuck past the limit: the watchdog says so each interval and stops feeding systemd, which restarts it.
        stuck.enter("committing a batch")
        func refusals() -> Int { handler.records.withLock { $0.filter { $0.1 == "not feeding the systemd watchdog" }.count } }
        try await waitUntil("the watchdog to stop feeding", timeout: .seconds(10)) { refusals() >= 1 }
        receiver.drain()
        let seen = refusals()
        try await waitUntil("two more intervals", timeout: .seconds(10)) { refusals() >= seen + 2 }
        #expect(receiver.receive(timeoutMilliseconds: 0) == nil, "no WATCHDOG=1 while stuck")

        stuck.enter("idle", idle: true)
        #expect(receiver.receive() == "WATCHDOG=1")
        await group.triggerGracefulShutdown()
        var last: String?
        repeat { last = receiver.receive() } while last == "WATCHDOG=1"
        #expect(last == "STOPPING=1")
        try await running.value
    }
}

/// A Unix datagram socket bound to a path, as systemd's notify socket is.
final class DatagramReceiver: Sendable {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw TestTimeout(description: "cannot bind \(path)") }
    }

    /// The next datagram, or nil after the timeout.
    func receive(timeoutMilliseconds: Int32 = 5_000) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }

    func drain() { while receive(timeoutMilliseconds: 0) != nil {} }

    func close() {
        _ = Glibc.close(fd)
        unlink(path)
    }
}
