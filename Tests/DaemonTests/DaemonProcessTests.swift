import Daemon
import Events
import Foundation
import Kafka
import Logging
import Rules
import Storage
import Synchronization
import Testing

/// The daemon as the platform team runs it: a separate process, killed and restarted.
@Suite(.serialized) struct DaemonProcessTests {
    static let binary = Fixtures.root.appendingPathComponent(".build/debug/consentinel").path

    final class DaemonProcess {
        let process = Process()
        let log: URL

        init(config: URL, environment: [String: String], log: URL, arguments: [String] = []) throws {
            self.log = log
            process.executableURL = URL(fileURLWithPath: DaemonProcessTests.binary)
            process.arguments = ["run", "--config", config.path] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardError = handle
            process.standardOutput = handle
            try process.run()
        }

        func kill(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

        /// A test that fails (throws) leaves no daemon behind.
        deinit { if process.isRunning { kill(SIGKILL) } }

        /// Waits for the process to end; nil when it did not within `timeout`.
        func exitCode(within timeout: Swift.Duration) async -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                if ContinuousClock.now > deadline { return nil }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return process.terminationStatus
        }

        var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// The daemon's own account of itself, for failure messages: its metrics (without help lines).
        func metricsText() async -> String {
            guard let range = logText.range(of: #"listening on 127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else {
                return "(no HTTP address in the log)"
            }
            let address = logText[range].dropFirst("listening on ".count)
            guard let text = await httpGet("http://\(address)/metrics")?.1 else { return "(metrics unavailable)" }
            return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("_bucket") }.joined(separator: "\n")
        }
    }
}

extension DaemonProcessTests {
    /// Three instances on one PostgreSQL store with Kafka and file sinks; one is killed while it holds leased outbox
    /// rows. The others take its partitions and, once the lease has run out, publish its rows; every output is the one
    /// a replay (a single instance without crashes) finds, on the topic and in the files.
    @Test func threeInstancesOnPostgreSQLWithKafkaSinksTakeOverAKilledOnesPartitionsAndRows() async throws {
        let base = try #require(ProcessInfo.processInfo.environment["CONSENTINEL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 },
                                "run the tests through scripts/test.sh, which starts PostgreSQL")
        let schema = "scale_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let fixture = try DaemonFixture(stateURL: base + (base.contains("?") ? "&" : "?") + "schema=\(schema)", group: "scale-out",
                                        violationsFile: "out/${INSTANCE}-violations.jsonl",
                                        deadLettersFile: "out/${INSTANCE}-dead-letters.jsonl", extraSinks: "lease: 10s", partitions: 6)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, end) = fixture.traffic(events: 6_000, seed: 44, bulkExportEvery: 1_000)
        let expected = try fixture.replayIDs(lines, end: end)
        let replayed = Dictionary(uniqueKeysWithValues: try JSONValue.lines(
            ofFile: fixture.directory.appendingPathComponent("replay-violations.jsonl").path).compactMap { v -> (String, String)? in
            guard case .string(let id)? = v["id"] else { return nil }
            return (id, v.serialized)
        })
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        func start(_ name: String, trace: Bool = false) throws -> DaemonProcess {
            try DaemonProcess(config: config, environment: fixture.environment.merging(["INSTANCE": name]) { _, n in n },
                              log: fixture.directory.appendingPathComponent("\(name).log"), arguments: trace ? ["--log-level", "trace"] : [])
        }
        let a = try start("a", trace: true), b = try start("b"), c = try start("c")
        let tail = CrashTests.LogTail(url: a.log)
        let producing = Task { try await fixture.produce(lines, end: end, chunk: 100, pause: .milliseconds(150)) }
        try await waitUntil("every instance to own partitions", timeout: .seconds(60)) {
            [a, b, c].allSatisfy { $0.logText.contains("partition assigned") }
        }

        // Caught publishing (stopped, so that it cannot finish the round), with rows leased and not sent: killed. A
        // round lasts some 15 ms, so the log is read every 2 ms rather than at `waitUntil`'s pace.
        var leased: [String] = []
        var caughtWithout = 0
        let pid = a.process.processIdentifier
        let catching = ContinuousClock.now + .seconds(60)
        while leased.isEmpty {
            guard ContinuousClock.now < catching else {
                throw TestTimeout(description: "instance a was never caught holding leased rows (caught \(caughtWithout) times without)")
            }
            tail.read()
            guard let stage = tail.lastStage(of: "outbox publisher"), stage == "publishing to Kafka" || stage == "writing output files" else {
                try await Task.sleep(for: .milliseconds(2))
                continue
            }
            a.kill(SIGSTOP)
            leased = try Self.psql(base, """
                SELECT id FROM \(schema).outbox WHERE sent_at IS NULL AND lease_owner LIKE '%:\(pid):%' AND lease_until > now()
                """)
            if leased.isEmpty {
                caughtWithout += 1
                a.kill(SIGCONT)
            }
        }
        a.kill(SIGKILL)
        #expect(await a.exitCode(within: .seconds(5)) != nil)
        tail.read()
        let owned = Self.ownedPartitions(tail.lines)
        #expect(!owned.isEmpty, "the killed instance owned partitions")

        // Its partitions go to the others.
        try? await waitUntil("the killed instance's partitions taken over", timeout: .seconds(60)) {
            owned.isSubset(of: Self.assignedPartitions(b.logText) .union(Self.assignedPartitions(c.logText)))
        }
        let takenOver = Self.assignedPartitions(b.logText).union(Self.assignedPartitions(c.logText))
        #expect(owned.isSubset(of: takenOver), "partitions \(owned.subtracting(takenOver).sorted()) of the killed instance were not taken over")
        try await producing.value

        // Every violation, on the topic and in the files, as the replay found it; the leased rows published by another.
        var unreadable: [String] = []
        func fileViolations() -> [String: [String]] {
            var found: [String: [String]] = [:]
            for name in ["a", "b", "c"] {
                let path = fixture.directory.appendingPathComponent("out/\(name)-violations.jsonl").path
                for line in ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n") {
                    guard let v = try? JSONValue.parse(String(line)) else { unreadable.append(String(line.prefix(200))); continue }
                    if case .string(let id)? = v["id"] { found[id, default: []].append(v.serialized) }
                }
            }
            return found
        }
        // The killed instance's leases run out after 10 s (`sinks.lease`); its rows may be in the files already (a
        // round's rows are one write), and are marked sent once a survivor has leased and published them again.
        let ids = leased.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ",")
        let leftover = "SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FILTER (WHERE lease_owner LIKE '%:\(pid):%') FROM \(schema).outbox WHERE id IN (\(ids))"
        try? await waitUntil("every violation in the files and the killed instance's rows taken over", timeout: .seconds(150)) {
            unreadable = []
            return Set(fileViolations().keys) == expected && (try? Self.psql(base, leftover)) == ["0|0"]
        }
        let files = fileViolations()
        let topic = try await CrashTests.topic(fixture, "privacy.violations", expecting: expected.count)
        #expect(unreadable.isEmpty, "lines that are not JSON: \(unreadable.prefix(3))")
        for (name, found) in [("files", files), ("topic", topic)] {
            let ids = Set(found.keys)
            #expect(ids == expected, "\(name): lost \(expected.subtracting(ids).count), invented \(ids.subtracting(expected).count)")
            #expect(found.allSatisfy { id, copies in copies.allSatisfy { $0 == replayed[id] } }, "\(name): a violation differs from the replay's")
        }
        let after = try Self.psql(base, leftover)
        #expect(after == ["0|0"], "of the \(leased.count) rows the killed instance had leased: unsent|still its own = \(after)")
        print("scale-out: killed instance held \(owned.count) partitions and \(leased.count) leased rows; all taken over")

        for survivor in [b, c] { survivor.kill(SIGTERM) }
        for survivor in [b, c] { #expect(await survivor.exitCode(within: .seconds(15)) == 0) }
    }

    /// The partitions an instance owned when its log ends: assigned and not revoked since.
    static func ownedPartitions(_ lines: [JSONValue]) -> Set<String> {
        var owned: Set<String> = []
        for line in lines {
            if line["message"] == .string("partition assigned"), case .string(let p)? = line["partition"] { owned.insert(p) }
            if line["message"] == .string("partitions revoked"), case .string(let list)? = line["partitions"] {
                for p in owned where list.contains("\"\(p)\"") { owned.remove(p) }
            }
        }
        return owned
    }

    static func assignedPartitions(_ log: String) -> Set<String> {
        Set(log.split(separator: "\n").compactMap { line -> String? in
            guard let v = try? JSONValue.parse(String(line)), v["message"] == .string("partition assigned"),
                  case .string(let p)? = v["partition"] else { return nil }
            return p
        })
    }

    /// The rows of a query (`psql -At`: fields joined by `|`).
    static func psql(_ url: String, _ sql: String) throws -> [String] {
        let out = try CommandLineTests.run("/usr/bin/env", ["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql])
        guard out.status == 0 else { throw DaemonError(.arguments, "psql: " + out.stderr) }
        return out.stdout.split(separator: "\n").map(String.init)
    }

    /// The signal handlers are in place before the daemon says "starting": a SIGHUP at that moment reloads or is
    /// ignored, it never ends the process.
    @Test func aSighupAsTheDaemonStartsDoesNotStopIt() async throws {
        let fixture = try DaemonFixture(group: "early-hup")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let daemon = try DaemonProcess(config: fixture.directory.appendingPathComponent("pipeline.yaml"),
                                       environment: fixture.environment,
                                       log: fixture.directory.appendingPathComponent("early-hup.log"))
        try await waitUntil("the daemon to start", timeout: .seconds(20)) { daemon.logText.contains("\"message\":\"starting\"") }
        daemon.kill(SIGHUP)
        daemon.kill(SIGHUP)
        let (lines, end) = fixture.traffic(events: 500, seed: 57)
        try await fixture.produce(lines, end: end)
        let expected = try fixture.replayIDs(lines, end: end)
        try await waitUntil("violations after the early SIGHUPs", timeout: .seconds(60)) {
            Set(fixture.fileIDs()).count >= expected.count || !daemon.process.isRunning
        }
        #expect(daemon.process.isRunning, "\(daemon.logText.suffix(2_000))")
        #expect(Set(fixture.fileIDs()) == expected)
        // Kept, not lost: read at once, and applied once the cluster had answered.
        #expect(daemon.logText.contains("SIGHUP: new rules loaded"))
        try await waitUntil("the early reload to be applied", timeout: .seconds(20)) { daemon.logText.contains("\"rules reloaded\"") }
        daemon.kill(SIGTERM)
        #expect(await daemon.exitCode(within: .seconds(10)) == 0)
    }

    /// A configuration the daemon cannot run with exits 78 (EX_CONFIG), which the systemd unit does not restart.
    @Test func aBadConfigurationExits78() async throws {
        let fixture = try DaemonFixture(group: "bad-config", maxPending: 0)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let daemon = try DaemonProcess(config: fixture.directory.appendingPathComponent("pipeline.yaml"),
                                       environment: fixture.environment,
                                       log: fixture.directory.appendingPathComponent("bad-config.log"))
        #expect(await daemon.exitCode(within: .seconds(20)) == 78, "\(daemon.logText.suffix(1_000))")
        #expect(daemon.logText.contains("sinks.max_pending must be a positive number"))
    }

    @Test func sighupWithABrokenRuleKeepsTheOldRules() async throws {
        let fixture = try DaemonFixture(group: "reload")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        let daemon = try DaemonProcess(config: config, environment: fixture.environment,
                                       log: fixture.directory.appendingPathComponent("reload.log"))
        try await waitUntil("the daemon to start", timeout: .seconds(20)) { daemon.logText.contains("\"message\":\"starting\"") }
        try "- rule: broken\n  kind: match\n  severity: high\n  when: event.nope ==\n"
            .write(to: fixture.directory.appendingPathComponent("rules/zz-broken.yaml"), atomically: true, encoding: .utf8)
        daemon.kill(SIGHUP)
        try await waitUntil("the reload to be refused", timeout: .seconds(10)) { daemon.logText.contains("keeping the current rules") }
        #expect(daemon.process.isRunning)
        let (lines, end) = fixture.traffic(events: 1_000, seed: 55)
        try await fixture.produce(lines, end: end)
        let expected = try fixture.replayIDs(lines, end: end)
        try await waitUntil("violations under the old rules", timeout: .seconds(60)) { Set(fixture.fileIDs()).count >= expected.count }
        #expect(Set(fixture.fileIDs()) == expected)
        daemon.kill(SIGTERM)
        #expect(await daemon.exitCode(within: .seconds(10)) == 0)
    }
}

func daemonLog(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

extension DaemonProcessTests {
    @Test func sigtermUnderLoadExitsWithinTenSecondsWithWhatWasProcessedCommitted() async throws {
        let fixture = try DaemonFixture(group: "sigterm")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, end) = fixture.traffic(events: 6_000, seed: 66)
        let expected = try fixture.replayIDs(lines, end: end)
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        let log = fixture.directory.appendingPathComponent("sigterm.log")
        let producing = Task { try await fixture.produce(lines, end: end) }
        let daemon = try DaemonProcess(config: config, environment: fixture.environment, log: log)
        try await waitUntil("work in progress", timeout: .seconds(30)) { !fixture.fileIDs().isEmpty }
        daemon.kill(SIGTERM)
        let started = ContinuousClock.now
        let code = await daemon.exitCode(within: .seconds(10))
        #expect(code == 0, "exit after SIGTERM: \(code.map(String.init) ?? "still running after 10 s")\n\(daemonLog(log).suffix(2_000))")
        print("SIGTERM under load: exited \(code.map(String.init) ?? "-") after \(ContinuousClock.now - started)")
        try await producing.value

        // What the store holds is what Kafka holds for the group: everything processed was committed to both.
        let store = try SQLiteStateStore(path: fixture.directory.appendingPathComponent("state.sqlite").path)
        var stored: [Int32: Int64] = [:]
        for p in Int32(0)..<Int32(fixture.partitions) {
            stored[p] = try await store.claim(PartitionID(topic: fixture.eventsTopic, partition: p), pipeline: fixture.name).nextOffset
        }
        await store.close()
        // A reader by manual assignment asks for the group's offsets without joining it: a member with another
        // assignment strategy than the daemon's trips an assertion in librdkafka 2.0.2's mock group coordinator.
        let partitions = (0..<Int32(fixture.partitions)).map { TopicPartition(topic: fixture.eventsTopic, partition: $0) }
        let reader = try Consumer(
            configuration: ConsumerConfiguration(
                bootstrapServers: [fixture.cluster.bootstrapServers], groupID: "sigterm", topics: [fixture.eventsTopic]),
            assignment: partitions.map { TopicPartitionOffset($0, offset: 0) })
        let committed = try await reader.committedOffsets(for: partitions)
        await reader.shutdown()
        for c in committed {
            #expect(stored[c.partition] == c.offset, "partition \(c.partition): store \(stored[c.partition].map(String.init) ?? "none"), Kafka \(c.offset)")
        }
        #expect(stored.values.compactMap { $0 }.reduce(0, +) > 0)

        // A restart finishes the work: nothing lost.
        let again = try DaemonProcess(config: config, environment: fixture.environment, log: log)
        try? await waitUntil("the rest", timeout: .seconds(60)) { Set(fixture.fileIDs()).count >= expected.count }
        #expect(Set(fixture.fileIDs()) == expected)
        again.kill(SIGTERM)
        #expect(await again.exitCode(within: .seconds(10)) == 0)
    }

    @Test func aSinkThatFallsBehindPausesConsumptionInsteadOfGrowingMemory() async throws {
        // The violations file cannot be written (its folder is a file), so outputs pile up in the outbox.
        let fixture = try DaemonFixture(group: "backpressure", violationsFile: "blocked/violations.jsonl", maxPending: 40)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        try "not a folder".write(to: fixture.directory.appendingPathComponent("blocked"), atomically: true, encoding: .utf8)
        let (daemon, base) = try await fixture.startInProcess(logLevel: .critical)
        defer { daemon.cancel() }
        let (lines, end) = fixture.traffic(events: 3_000, seed: 77)
        try await fixture.produce(lines, end: end)
        try await waitUntil("consumption to pause", timeout: .seconds(60)) {
            guard let text = await httpGet(base + "/metrics")?.1 else { return false }
            return PrometheusText.parse(text).sum("consentinel_consumption_paused") == 1
        }
        try await Task.sleep(for: .seconds(2))
        let first = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
        try await Task.sleep(for: .seconds(2))
        let second = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
        #expect(second.sum("consentinel_consumption_paused") == 1)
        #expect(second.sum("consentinel_events_total") == first.sum("consentinel_events_total"), "no reading while paused")
        #expect(second.sum("consentinel_events_total") < Double(lines.count), "it stopped before reading everything")
        // Paused until the outbox is down to half the limit, which the unwritable file never lets it reach.
        #expect(second.sum("consentinel_outbox_depth") > 20)
    }
}

extension DaemonProcessTests {
    /// An instance killed without a word is replaced within seconds with the default settings: the group's session
    /// (`sources.kafka.session_timeout`, 6 s by default) runs out and the restarted instance gets every partition back.
    /// librdkafka 2.0.2's mock broker then waits a session less a second more for members to join before it assigns
    /// (a broker assigns once the dead member is out), and ignores static membership (`instance_id`), which makes it
    /// immediate on a broker: the bound here is 2 × 6 − 1 s and 2 s to start (docs/kafka.md, "Recovery").
        @Test func aRestartedInstanceHasItsPartitionsBackWithinTwoSessions() async throws {
        let fixture = try DaemonFixture(group: "recovery", defaultSession: true)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        let first = try DaemonProcess(config: config, environment: fixture.environment, log: fixture.directory.appendingPathComponent("first.log"))
        try await waitUntil("the first instance's partitions", timeout: .seconds(60)) {
            first.logText.components(separatedBy: "partition assigned").count - 1 == fixture.partitions
        }
        first.kill(SIGKILL)
        let killed = ContinuousClock.now
        #expect(await first.exitCode(within: .seconds(5)) != nil)
        let second = try DaemonProcess(config: config, environment: fixture.environment, log: fixture.directory.appendingPathComponent("second.log"))
        try await waitUntil("the restarted instance's partitions", timeout: .seconds(60)) {
            second.logText.components(separatedBy: "partition assigned").count - 1 == fixture.partitions
        }
        let recovery = ContinuousClock.now - killed
        print("recovery: \(recovery) from SIGKILL to all \(fixture.partitions) partitions owned again")
        #expect(recovery <= .seconds(13), "recovery took \(recovery); killed at \(Date().addingTimeInterval(-Double(recovery.components.seconds)))\n\(second.logText.split(separator: "\n").filter { !$0.contains("stage") }.prefix(30).joined(separator: "\n"))")
        second.kill(SIGTERM)
        #expect(await second.exitCode(within: .seconds(10)) == 0)
    }

    /// `instance_id` makes the consumer a static member (`group.instance.id`): as written, or the host name for `host`;
    /// `session_timeout` sets the session and a heartbeat of a sixth of it; librdkafka pre-fetches at most 4 MiB.
    @Test func staticMembershipAndTheSessionComeFromPipelineYAML() throws {
        let fixture = try DaemonFixture(group: "static", defaultSession: true, extraKafka: "instance_id: ${INSTANCE_ID:-}")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        func consumer(_ environment: [String: String]) throws -> ConsumerConfiguration {
            let pipeline = try PipelineLoader().load(directory: fixture.directory.path)
            return try DaemonConfiguration.load(pipeline: pipeline, environment: fixture.environment.merging(environment) { _, n in n })
                .consumerConfiguration()
        }
        #expect(try consumer([:]).properties["group.instance.id"] == nil)
        #expect(try consumer(["INSTANCE_ID": "consentinel-0"]).properties["group.instance.id"] == "consentinel-0")
        #expect(try consumer(["INSTANCE_ID": "host"]).properties["group.instance.id"] == ProcessInfo.processInfo.hostName)
        let defaults = try consumer([:]).typedProperties
        #expect(defaults.contains { $0 == ("session.timeout.ms", "6000") } && defaults.contains { $0 == ("heartbeat.interval.ms", "1000") })
        #expect(defaults.contains { $0 == ("queued.max.messages.kbytes", "4096") })

        let text = try String(contentsOf: fixture.directory.appendingPathComponent("pipeline.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "idle_timeout: 10m", with: "idle_timeout: 10m\n    session_timeout: 30s")
            .write(to: fixture.directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        let longer = try consumer([:]).typedProperties
        #expect(longer.contains { $0 == ("session.timeout.ms", "30000") } && longer.contains { $0 == ("heartbeat.interval.ms", "5000") })
    }
}

