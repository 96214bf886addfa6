import Daemon
import Events
import Foundation
import Kafka
import Logging
import Replay
import Rules
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A daemon pipeline on the mock cluster: the default rules, SQLite state, violations to a topic and a file.
struct DaemonFixture {
    let cluster: MockCluster
    let directory: URL
    let eventsTopic = "privacy.events"
    let partitions: Int
    var violationsFile: URL { directory.appendingPathComponent("out/violations.jsonl") }
    var deadLettersFile: URL { directory.appendingPathComponent("out/dead-letters.jsonl") }

    let name: String

    init(
        stateURL: String? = nil, group: String = "consentinel-test", name: String = "daemon-test-\(UUID().uuidString.prefix(8))",
        violationsFile: String = "out/violations.jsonl", deadLettersFile: String = "out/dead-letters.jsonl",
        kafkaSinks: Bool = true, maxPending: Int = 50_000, extraSinks: String = "", extraSettings: String = "",
        partitions: Int = 4, defaultSession: Bool = false, extraKafka: String = "", extraState: String = "",
        extraProperties: String = "", idleTimeout: String = "10m"
    ) throws {
        self.name = name
        self.partitions = partitions
        cluster = try MockCluster(brokers: 1)
        try cluster.createTopic(eventsTopic, partitions: partitions)
        try cluster.createTopic("privacy.violations", partitions: 1)
        try cluster.createTopic("privacy.dead-letters", partitions: 1)
        directory = try Fixtures.temporaryDirectory()
        let fm = FileManager.default
        for folder in ["rules", "lists"] {
            try fm.copyItem(atPath: Fixtures.defaultPipeline + "/" + folder, toPath: directory.appendingPathComponent(folder).path)
        }
        let state = stateURL ?? directory.appendingPathComponent("state.sqlite").path
        try """
        name: \(name)
        lateness: 5m
        sources:
          kafka:
            bootstrap_servers: ${BOOTSTRAP}
            group: \(group)
            topics: [\(eventsTopic)]
            idle_timeout: \(idleTimeout)
            \(extraKafka)
            properties:
              \(defaultSession ? "" : "session.timeout.ms: \"3000\"")
              \(defaultSession ? "" : "heartbeat.interval.ms: \"300\"")
              max.poll.interval.ms: "10000"
              partition.assignment.strategy: cooperative-sticky
              auto.commit.interval.ms: "200"
              \(extraProperties)
        state:
          url: \(state)
          \(extraState)
        sinks:
          violations:
            \(kafkaSinks ? "topic: privacy.violations" : "")
            file: \(violationsFile)
          dead_letters:
            \(kafkaSinks ? "topic: privacy.dead-letters" : "")
            file: \(deadLettersFile)
          max_pending: "\(maxPending)"
          \(extraSinks)
        http:
          host: 127.0.0.1
          port: "0"
        \(extraSettings)
        """.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
    }

    var environment: [String: String] { ["BOOTSTRAP": cluster.bootstrapServers] }

    /// Generated traffic, and a quiet event per partition an hour after the last one, so the watermark passes
    /// everything that came before.
    func traffic(events: Int, seed: UInt64, subjects: Int = 120, bulkExportEvery: Int = 50_000) -> (lines: [String], end: Timestamp) {
        let lines = Array(EventGenerator(.init(events: events, subjects: subjects, seed: seed, months: 1,
                                               invalidRate: 0.01, duplicateRate: 0.01, bulkExportEvery: bulkExportEvery)))
        var latest = Timestamp.distantPast
        for line in lines {
            if let v = try? JSONValue.parse(line), case .string(let t)? = v["time"], let ts = Timestamp(rfc3339: t) {
                latest = Swift.max(latest, ts)
            }
        }
        return (lines, latest + .hours(1))
    }

    /// Produces `lines` keyed by subject, `chunk` at a time with `pause` after each; returns where each went.
    @discardableResult
    func produce(_ lines: [String], end: Timestamp?, chunk: Int = 500, pause: Swift.Duration? = nil) async throws -> [DeliveryReport] {
        var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        config.messageTimeout = .seconds(30)
        let producer = try Producer(configuration: config)
        // Queued one after another, so each partition holds its lines in the file's order (as a replay reads them).
        var pending: [Delivery] = []
        var reports: [DeliveryReport] = []
        for (i, line) in lines.enumerated() {
            let subject = (try? JSONValue.parse(line))?["subject"].flatMap { v -> String? in
                if case .string(let s) = v { return s } else { return nil }
            } ?? "line-\(i)"
            pending.append(try producer.enqueue(topic: eventsTopic, key: Array(subject.utf8), value: Array(line.utf8)))
            if pending.count == chunk {
                for delivery in pending { reports.append(try await delivery.report()) }
                pending = []
                if let pause { try await Task.sleep(for: pause) }
            }
        }
        for delivery in pending { reports.append(try await delivery.report()) }
        for p in 0..<partitions {
            guard let end else { break }
            let tick = #"{"id":"tick-\#(p)","type":"collect","time":"\#(end.rfc3339)","subject":"tick-\#(p)","categories":["user.device"]}"#
            _ = try await producer.send(topic: eventsTopic, key: nil, value: Array(tick.utf8), partition: Int32(p))
        }
        await producer.shutdown()
        return reports
    }

    /// What a replay of the same lines finds, up to the watermark the daemon reaches.
    func replayIDs(_ lines: [String], end: Timestamp) throws -> Set<String> {
        let input = directory.appendingPathComponent("replay-input.jsonl")
        try Fixtures.write(lines, to: input)
        let out = directory.appendingPathComponent("replay-violations.jsonl")
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        _ = try ReplayJob(pipeline: pipeline, options: .init(inputs: [input.path], until: end - .minutes(5), violations: out.path)).run()
        return Set(try JSONValue.lines(ofFile: out.path).compactMap { v -> String? in
            guard case .string(let id)? = v["id"] else { return nil }
            return id
        })
    }

    /// Replays `lines` with this fixture's pipeline into `replay/` (violations.jsonl, dead-letters.jsonl, digests/);
    /// returns that folder.
    func replayAll(_ lines: [String], until: Timestamp) throws -> URL {
        let input = directory.appendingPathComponent("replay-input.jsonl")
        try Fixtures.write(lines, to: input)
        let out = directory.appendingPathComponent("replay")
        let pipeline = try PipelineLoader().load(directory: directory.path)
        _ = try ReplayJob(pipeline: pipeline, options: .init(
            inputs: [input.path], until: until, violations: out.appendingPathComponent("violations.jsonl").path,
            deadLetters: out.appendingPathComponent("dead-letters.jsonl").path, digests: out.appendingPathComponent("digests").path)).run()
        return out
    }

    /// A violation of a replay, as far as the tests need it.
    struct ReplayedViolation {
        var rule: String
        var actor: String?
        /// A threshold's window (from its evidence).
        var window: Range<Timestamp>?
    }

    /// The violations a replay of the same lines finds (see `replayIDs`).
    func replayViolations(_ lines: [String], end: Timestamp) throws -> [ReplayedViolation] {
        _ = try replayIDs(lines, end: end)
        return try JSONValue.lines(ofFile: directory.appendingPathComponent("replay-violations.jsonl").path).compactMap { v in
            guard case .string(let rule)? = v["rule"] else { return nil }
            var found = ReplayedViolation(rule: rule)
            if case .string(let a)? = v["actor"] { found.actor = a }
            if case .string(let s)? = v["evidence"]?["window_start"], case .string(let e)? = v["evidence"]?["window_end"],
               let start = Timestamp(rfc3339: s), let end = Timestamp(rfc3339: e) {
                found.window = start..<end
            }
            return found
        }
    }

    func fileIDs() -> [String] {
        ((try? JSONValue.lines(ofFile: violationsFile.path)) ?? []).compactMap { v in
            guard case .string(let id)? = v["id"] else { return nil }
            return id
        }
    }
}

func httpGet(_ url: String) async -> (Int, String)? {
    guard let u = URL(string: url), let (data, response) = try? await URLSession.shared.data(from: u) else { return nil }
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

extension DaemonFixture {
    /// Runs the daemon in this process (cancel the task to stop it); returns it with its HTTP base URL.
    func startInProcess(logLevel: Logger.Level, environment: [String: String]? = nil) async throws -> (Task<Void, Error>, String) {
        let (daemon, admin, _) = try await startInProcess(logLevel: logLevel, environment: environment, portal: false)
        return (daemon, admin)
    }

    /// The same, with the base URL of the portal's own listener too (the pipeline's `portal.port` should be 0).
    func startInProcess(logLevel: Logger.Level, environment: [String: String]? = nil, portal: Bool,
                        stopper: DaemonApp.Stopper? = nil) async throws -> (Task<Void, Error>, admin: String, portal: String)
    {
        let port = Mutex(0), portalPort = Mutex(0)
        var logger = Logger(label: "daemon-test")
        logger.logLevel = logLevel
        let directory = self.directory.path, environment = environment ?? self.environment
        let daemon = Task {
            try await DaemonApp.run(
                directory: directory, environment: environment, logger: logger,
                onHTTPBound: { p in port.withLock { $0 = p } }, onPortalBound: { p in portalPort.withLock { $0 = p } },
                stopper: stopper)
        }
        try await waitUntil("the HTTP server", timeout: .seconds(30)) { port.withLock { $0 } != 0 }
        if portal { try await waitUntil("the portal's HTTP server", timeout: .seconds(30)) { portalPort.withLock { $0 } != 0 } }
        return (daemon, "http://127.0.0.1:\(port.withLock { $0 })", "http://127.0.0.1:\(portalPort.withLock { $0 })")
    }
}

/// Every message on a topic's first `partitions` partitions, read by manual assignment (no group: rebalances elsewhere
/// cannot hold it up) once `done` holds for them or `timeout` has passed, and then up to each partition's high
/// watermark at that moment, so that an extra copy already produced is read too.
func readTopic(
    _ fixture: DaemonFixture, _ topic: String, partitions: Int = 1, timeout: Swift.Duration,
    until done: @escaping ([ConsumerMessage]) -> Bool
) async throws -> [ConsumerMessage] {
    var config = ConsumerConfiguration(bootstrapServers: [fixture.cluster.bootstrapServers],
                                       groupID: "reader-\(UUID().uuidString)", topics: [topic])
    config.sessionTimeout = .seconds(6)
    config.heartbeatInterval = .milliseconds(300)
    let consumer = try Consumer(configuration: config, assignment: (0..<partitions).map {
        TopicPartitionOffset(topic: topic, partition: Int32($0), offset: 0)
    })
    let seen = Mutex<[ConsumerMessage]>([])
    let reader = Task {
        for try await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            seen.withLock { $0 += batch.messages }
        }
    }
    try? await waitUntil("messages on \(topic)", timeout: timeout) { done(seen.withLock { $0 }) }
    let admin = try Admin(configuration: AdminConfiguration(bootstrapServers: [fixture.cluster.bootstrapServers]))
    var ends: [Int32: Int64] = [:]
    for p in 0..<Int32(partitions) { ends[p] = try await admin.watermarks(topic: topic, partition: p).high }
    try await waitUntil("\(topic) read to its high watermarks \(ends)", timeout: .seconds(30)) {
        let next = seen.withLock { Dictionary($0.map { ($0.partition, $0.offset + 1) }, uniquingKeysWith: max) }
        return ends.allSatisfy { p, end in end == 0 || next[p, default: 0] >= end }
    }
    await consumer.shutdown()
    reader.cancel()
    return seen.withLock { $0 }
}


@Suite(.serialized) struct DaemonRunTests {
    @Test func theDaemonFindsWhatAReplayFindsAndServesHealthAndMetrics() async throws {
        let fixture = try DaemonFixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (daemon, base) = try await fixture.startInProcess(logLevel: .warning)
        defer { daemon.cancel() }
        #expect(await httpGet(base + "/healthz")?.0 == 200)
        try await waitUntil("readiness", timeout: .seconds(30)) { await httpGet(base + "/readyz")?.0 == 200 }
        #expect(await httpGet(base + "/readyz")?.1.hasPrefix("ready store=yes kafka=yes") == true)

        let (lines, end) = fixture.traffic(events: 3_000, seed: 21)
        try await fixture.produce(lines, end: end)
        let expected = try fixture.replayIDs(lines, end: end)
        #expect(expected.count > 100)
        try? await waitUntil("every violation in the file", timeout: .seconds(60)) { Set(fixture.fileIDs()).count >= expected.count }
        let ids = fixture.fileIDs()
        #expect(Set(ids) == expected, "missing \(expected.subtracting(ids).count), extra \(Set(ids).subtracting(expected).count) of \(expected.count)")
        #expect(ids.count == Set(ids).count, "no violation written twice")

        // Lag is measured on its own timer: with nothing more arriving, it comes down to 0 on every partition.
        try await waitUntil("the lag metric, measured after everything was read", timeout: .seconds(20)) {
            let samples = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
            return samples.samples.filter { $0.name == "consentinel_consumer_lag_messages" }.count == 4
                && samples.sum("consentinel_consumer_lag_messages") == 0
        }
        let metrics = try #require(await httpGet(base + "/metrics"))
        #expect(metrics.0 == 200)
        let samples = PrometheusText.parse(metrics.1)
        let deadLetters = try JSONValue.lines(ofFile: fixture.deadLettersFile.path).count
        #expect(deadLetters > 0)
        #expect(samples.sum("consentinel_dead_letters_total") == Double(deadLetters))
        #expect(samples.sum("consentinel_violations_total") >= Double(expected.count))
        let published = samples.samples.filter { $0.name == "consentinel_outputs_published_total" && $0.labels.contains("violation") }
        #expect(published.reduce(0) { $0 + $1.value } >= Double(ids.count), "every violation line in the file was counted as published")
        #expect(samples.sum("consentinel_events_total") > 2_500)
        #expect(samples.sum("consentinel_duplicate_events_total") > 0)
        #expect(samples.sum("consentinel_assigned_partitions") == 4)
        #expect(samples.sum("consentinel_watermark_seconds") == Double((end - .minutes(5)).microseconds) / 1e6)
        #expect(samples.names.contains("consentinel_batch_duration_seconds_bucket"))
        #expect(samples.names.contains("consentinel_outbox_depth"))
        #expect(samples.samples.filter { $0.name == "consentinel_consumer_lag_messages" }.count == 4)
        #expect(samples.sum("consentinel_consumer_lag_messages") == 0)
    }

    /// Whoever runs the daemon in its process (the demo, a test) may take the cluster away as soon as `run` returns:
    /// by then every client the daemon made is destroyed, none left connecting and logging refused connections.
    @Test func noKafkaClientOutlivesAStoppedDaemon() async throws {
        let clientID = "census-\(UUID().uuidString.prefix(8))"
        let fixture = try DaemonFixture(extraProperties: "client.id: \(clientID)")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let stopper = DaemonApp.Stopper()
        let (daemon, base, _) = try await fixture.startInProcess(logLevel: .warning, portal: false, stopper: stopper)
        defer { daemon.cancel() }
        let (lines, end) = fixture.traffic(events: 300, seed: 5)
        try await fixture.produce(lines, end: end)
        // The probe's admin client is at work: it measured the lag of every assigned partition.
        try await waitUntil("the lag of every partition", timeout: .seconds(30)) {
            PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "").samples
                .filter { $0.name == "consentinel_consumer_lag_messages" }.count == 4
        }
        // The consumer, the admin client and the producer.
        #expect(KafkaClientCensus.alive(clientID: clientID) == 3)
        await stopper.stop()
        try await daemon.value
        #expect(KafkaClientCensus.alive(clientID: clientID) == 0)
    }
}

/// Prometheus text exposition, parsed into (name, labels, value) samples.
struct PrometheusText {
    var samples: [(name: String, labels: String, value: Double)] = []

    static func parse(_ text: String) -> PrometheusText {
        var out = PrometheusText()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            let name = series.firstIndex(of: "{").map { String(series[..<$0]) } ?? String(series)
            let labels = series.firstIndex(of: "{").map { String(series[$0...]) } ?? ""
            out.samples.append((name, labels, value))
        }
        return out
    }

    func sum(_ name: String) -> Double { samples.filter { $0.name == name }.reduce(0) { $0 + $1.value } }
    var names: Set<String> { Set(samples.map(\.name)) }
}
