import Alerts
import Daemon
import Events
import Foundation
import Kafka
import Logging
import Synchronization
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The whole daemon on librdkafka's mock cluster, alerting a real HTTP server that fails for a while, stopped and
/// started again in between.
@Suite(.serialized) struct DaemonAlertTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A pipeline folder with the default rules, SQLite state, violations to a file and a webhook alert route.
    func makePipeline(bootstrap: String, hook: String, maxPending: Int = 50_000, maxQueue: Int = 10_000) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for folder in ["rules", "lists"] {
            try FileManager.default.copyItem(
                atPath: Self.root.appendingPathComponent("pipelines/default/\(folder)").path,
                toPath: directory.appendingPathComponent(folder).path)
        }
        try """
            name: alerts-\(UUID().uuidString.prefix(8))
            sources:
              kafka:
                bootstrap_servers: \(bootstrap)
                group: alerts-test
                topics: [privacy.events]
                properties:
                  session.timeout.ms: "3000"
                  heartbeat.interval.ms: "300"
            state:
              url: state.sqlite
            sinks:
              violations:
                file: out/violations.jsonl
              max_pending: "\(maxPending)"
            http:
              port: "0"
            alerts:
              retry_base: 100ms
              retry_max: 500ms
              routes:
                - name: security
                  min_severity: high
                  channels:
                    - type: webhook
                      url: ${HOOK_URL}
                      max_queue: "\(maxQueue)"
            """.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    /// Starts the daemon in this process; returns it (cancel to stop) and its HTTP port.
    func start(_ directory: URL, hook: String) async throws -> (Task<Void, any Error>, Int) {
        let port = Mutex(0)
        var logger = Logger(label: "daemon-alerts-test")
        logger.logLevel = .error
        let task = Task {
            try await DaemonApp.run(directory: directory.path, environment: ["HOOK_URL": hook], logger: logger) { p in
                port.withLock { $0 = p }
            }
        }
        #expect(await eventually { port.withLock { $0 } != 0 })
        return (task, port.withLock { $0 })
    }

    func metrics(_ port: Int) async -> String {
        guard let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Twelve shares to undisclosed recipients (twelve high violations) and quiet events an hour later that move the
    /// watermark past them.
    func produceShares(_ cluster: MockCluster, _ range: Range<Int> = 0..<12, hour: Int = 10) async throws {
        var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        config.messageTimeout = .seconds(30)
        let producer = try Producer(configuration: config)
        for i in range {
            _ = try await producer.send(topic: "privacy.events", key: Array("s-\(i)".utf8),
                                        value: Array(share(i, time: "2026-03-01T\(hour):00:\(10 + i)Z").utf8))
        }
        for p in 0..<2 {
            let tick = #"{"id":"tick-\#(hour)-\#(p)","type":"collect","time":"2026-03-01T\#(hour + 1):00:00Z","subject":"tick","categories":["user.device"]}"#
            _ = try await producer.send(topic: "privacy.events", key: nil, value: Array(tick.utf8), partition: Int32(p))
        }
        await producer.shutdown()
    }

    /// Whether the metrics say consumption is paused (the gauge's line, not its help text).
    /// The webhook channel's queue is empty: every alert it holds was delivered (and deleted), none is left to send.
    func queueEmpty(_ port: Int) async -> Bool {
        await metrics(port).contains(#"consentinel_alert_queue_depth{route="security",channel="webhook"} 0"#)
    }

    func paused(_ metrics: String) -> Bool {
        metrics.split(separator: "\n").contains { $0.hasPrefix("consentinel_consumption_paused 1") }
    }

    func violationIDs(_ directory: URL) -> Set<String> {
        let path = directory.appendingPathComponent("out/violations.jsonl").path
        return Set(((try? JSONValue.lines(ofFile: path)) ?? []).compactMap { v in
            guard case .string(let id)? = v["id"], case .string(let severity)? = v["severity"],
                ["high", "critical"].contains(severity) else { return nil }
            return id
        })
    }

    /// A webhook that answers `status` until its script is cleared, and a pipeline on a new mock cluster whose topic
    /// already holds the shares (the caller keeps the cluster alive).
    func failingChannelWithShares(
        status: Int, maxPending: Int = 50_000, maxQueue: Int = 10_000
    ) async throws -> (AlertReceiver, MockCluster, URL) {
        let server = try await AlertReceiver.start()
        server.script("/hook", Array(repeating: .init(status), count: 1_000_000))
        let cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("privacy.events", partitions: 2)
        let directory = try makePipeline(
            bootstrap: cluster.bootstrapServers, hook: server.url("/hook"), maxPending: maxPending, maxQueue: maxQueue)
        try await produceShares(cluster)
        return (server, cluster, directory)
    }

    func share(_ i: Int, time: String) -> String {
        #"{"id":"share-\#(i)","type":"share","time":"\#(time)","subject":"s-\#(i)","actor":"svc-\#(i % 3)","purpose":"essential.service","categories":["user.contact.email"],"recipient":"data-broker-\#(i)"}"#
    }

    @Test func aChannelThatFailsAcrossARestartStillGetsEveryHighViolationOnce() async throws {
        let (server, cluster, directory) = try await failingChannelWithShares(status: 500)
        defer { _ = withExtendedLifetime(cluster) { Task { await server.stop() } } }
        defer { try? FileManager.default.removeItem(at: directory) }
        func violationIDs() -> Set<String> { self.violationIDs(directory) }
        // First run: every delivery fails; stop the daemon once it has been trying for a while.
        var (daemon, _) = try await start(directory, hook: server.url("/hook"))
        #expect(await eventually(seconds: 60) { violationIDs().count == 12 && server.received.count >= 5 })
        daemon.cancel()
        _ = try? await daemon.value
        #expect(server.accepted("/hook").isEmpty)

        // The channel recovers; a second run delivers everything that was queued, once.
        await server.clearScript("/hook")
        let port: Int
        (daemon, port) = try await start(directory, hook: server.url("/hook"))
        let expected = violationIDs()
        #expect(expected.count == 12)
        #expect(await eventually(seconds: 60) { server.accepted("/hook").count >= expected.count })
        #expect(await eventually(seconds: 30) { await queueEmpty(port) }, "nothing left to send, so no copy still to come")
        daemon.cancel()
        _ = try? await daemon.value
        let delivered = server.accepted("/hook").compactMap { $0.json["id"] as? String }
        #expect(delivered.count == expected.count, "each alert once")
        #expect(Set(delivered) == expected)
    }

    /// A channel down for good: consumption never pauses for it (alerts are not outputs: `max_pending` is below the
    /// alerts waiting), its queue stops at `max_queue`, the rest is set aside and counted; once it recovers, the queued
    /// alerts arrive exactly once and one message reports those set aside.
    @Test func aDeadChannelNeverPausesConsumptionAndItsQueueStopsAtTheBound() async throws {
        let (server, cluster, directory) = try await failingChannelWithShares(status: 503, maxPending: 8, maxQueue: 5)
        defer { _ = withExtendedLifetime(cluster) { Task { await server.stop() } } }
        defer { try? FileManager.default.removeItem(at: directory) }

        let (daemon, port) = try await start(directory, hook: server.url("/hook"))
        defer { daemon.cancel() }
        #expect(await eventually(seconds: 60) { violationIDs(directory).count == 12 })
        let bounded = await eventually(seconds: 30) {
            let text = await metrics(port)
            return text.contains(#"consentinel_alert_queue_depth{route="security",channel="webhook"} 5"#)
                && text.contains(#"consentinel_alerts_set_aside_total{route="security",channel="webhook"} 7"#)
                && !paused(text)
        }
        #expect(bounded)
        // Still consuming while the channel is down: later shares are found too, and their alerts set aside.
        try await produceShares(cluster, 12..<15, hour: 12)
        #expect(await eventually(seconds: 60) { violationIDs(directory).count == 15 })
        #expect(await eventually(seconds: 30) {
            await metrics(port).contains(#"consentinel_alerts_set_aside_total{route="security",channel="webhook"} 10"#)
        })
        #expect(!paused(await metrics(port)))
        #expect(server.accepted("/hook").isEmpty)

        // The channel recovers: the 5 queued alerts arrive once, and one message reports the 10 set aside.
        await server.clearScript("/hook")
        #expect(await eventually(seconds: 60) { server.accepted("/hook").count >= 6 })
        #expect(await eventually(seconds: 30) { await queueEmpty(port) }, "nothing left to send, so no copy still to come")
        daemon.cancel()
        _ = try? await daemon.value
        let accepted = server.accepted("/hook").map(\.json)
        #expect(accepted.count == 6)
        let notices = accepted.filter { ($0["rule"] as? String) == "consentinel.alerts_set_aside" }
        #expect(notices.count == 1)
        #expect((notices.first?["summary"] as? String)?.contains("10 alerts for security/webhook were set aside") == true)
        let delivered = accepted.filter { ($0["rule"] as? String) != "consentinel.alerts_set_aside" }
            .compactMap { $0["id"] as? String }
        #expect(delivered.count == 5 && Set(delivered).count == 5)
        #expect(Set(delivered).isSubset(of: violationIDs(directory)))
    }
}
