import Daemon
import Events
import Foundation
import Kafka
import Logging
import Storage
import Synchronization
import Testing

/// The daemon as the platform team runs it: a separate process, killed and restarted.
@Suite(.serialized) struct DaemonProcessTests {
    static let binary = Fixtures.root.appendingPathComponent(".build/debug/consentinel").path

    final class DaemonProcess {
        let process = Process()
        let log: URL

        init(config: URL, environment: [String: String], log: URL) throws {
            self.log = log
            process.executableURL = URL(fileURLWithPath: DaemonProcessTests.binary)
            process.arguments = ["run", "--config", config.path]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardError = handle
            process.standardOutput = handle
            try process.run()
        }

        func kill(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

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

    /// Every violation on the violations topic so far, by id: each copy published (the JSON text).
    static func topicViolations(_ fixture: DaemonFixture, expecting count: Int, timeout: Swift.Duration) async throws -> [String: [String]] {
        func byID(_ messages: [ConsumerMessage]) -> [String: [String]] {
            var seen: [String: [String]] = [:]
            for m in messages {
                let text = String(decoding: m.value, as: UTF8.self)
                guard let v = try? JSONValue.parse(text), case .string(let id)? = v["id"] else { continue }
                seen[id, default: []].append(text)
            }
            return seen
        }
        return byID(try await readTopic(fixture, "privacy.violations", timeout: timeout) { byID($0).count >= count })
    }

    @Test func killedAtRandomTenTimesItLosesNothingAndAStopIsClean() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the executable first (scripts/test.sh does)")
        let fixture = try DaemonFixture(group: "crash-test")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, end) = fixture.traffic(events: 4_000, seed: 33, subjects: 400, bulkExportEvery: 1_000)
        let expected = try fixture.replayIDs(lines, end: end)
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        let log = fixture.directory.appendingPathComponent("daemon.log")
        // Traffic arrives in ten chunks; each instance is killed a moment after it got its partitions, while it
        // works through its chunk.
        let size = lines.count / 10
        let chunks = stride(from: 0, to: lines.count, by: size).map { Array(lines[$0..<min($0 + size, lines.count)]) }
        // A bulk export found by the replay whose accesses arrive in two chunks: its window spans a SIGKILL.
        let bulk = try fixture.replayViolations(lines, end: end).filter { $0.rule == "bulk-access" }
        #expect(!bulk.isEmpty)
        let spanning = bulk.filter { v in
            guard let actor = v.actor, let window = v.window else { return false }
            let inWindow = lines.indices.filter { i in
                guard let e = try? JSONValue.parse(lines[i]), case .string(actor)? = e["actor"], case .string(let t)? = e["time"],
                      let time = Timestamp(rfc3339: t) else { return false }
                return window.contains(time)
            }
            return Set(inWindow.map { $0 / size }).count > 1
        }
        #expect(!spanning.isEmpty, "a bulk export spans two chunks, so a kill falls inside its window")
        var rng = SplitMix64(seed: 5)
        var kills = 0
        var assignments = 0
        for chunk in chunks.prefix(10) {
            try await fixture.produce(chunk, end: nil)
            let before = daemonLog(log).components(separatedBy: "partition assigned").count
            let daemon = try DaemonProcess(config: config, environment: fixture.environment, log: log)
            do {
                try await waitUntil("partitions for the new instance", timeout: .seconds(30)) {
                    daemonLog(log).components(separatedBy: "partition assigned").count > before
                }
            } catch {
                Issue.record("\(error)\n\(daemonLog(log).suffix(4_000))")
                try? daemonLog(log).write(toFile: "/tmp/crash-debug.log", atomically: true, encoding: .utf8)
                daemon.kill(SIGKILL)
                return
            }
            assignments += daemonLog(log).components(separatedBy: "partition assigned").count - before
            try await Task.sleep(for: .milliseconds(Int64(100 + rng.next() % 1_200)))
            daemon.kill(SIGKILL)
            _ = await daemon.exitCode(within: .seconds(5))
            kills += 1
        }
        try await fixture.produce(Array(lines.dropFirst(chunks.prefix(10).reduce(0) { $0 + $1.count })), end: end)
        let assignedBeforeTheLast = assignments
        #expect(assignedBeforeTheLast >= 10, "every killed instance had partitions before it died")
        let last = try DaemonProcess(config: config, environment: fixture.environment, log: log)
        let published = try await Self.topicViolations(fixture, expecting: expected.count, timeout: .seconds(90))
        let duplicates = published.values.reduce(0) { $0 + $1.count - 1 }
        print("crash test: \(kills) SIGKILLs, \(assignedBeforeTheLast) partition assignments before the last start, \(expected.count) violations expected, \(published.count) distinct on the topic, \(duplicates) re-published duplicates")
        #expect(Set(published.keys) == expected, "missing: \(expected.subtracting(published.keys).count), extra: \(Set(published.keys).subtracting(expected).count)")
        // The bulk exports, whose windows spanned kills, are reported as the replay reports them: each window once,
        // crossing the limit at the same event (a window counted twice would cross it earlier).
        let replayed = try JSONValue.lines(ofFile: fixture.directory.appendingPathComponent("replay-violations.jsonl").path)
            .filter { $0["rule"] == .string("bulk-access") }.map(\.serialized)
        let bulkOnTopic = published.values.flatMap { copies in Set(copies.compactMap { try? JSONValue.parse($0).serialized }) }
            .filter { $0.contains(#""rule":"bulk-access""#) }
        #expect(bulkOnTopic.count == bulk.count && Set(bulkOnTopic) == Set(replayed),
                "bulk-access on the topic: \(bulkOnTopic.count), in the replay: \(replayed.count)")

        last.kill(SIGTERM)
        let code = await last.exitCode(within: .seconds(10))
        #expect(code == 0, "exit after SIGTERM: \(code.map(String.init) ?? "still running")\n\(last.logText.suffix(3_000))")
    }
}

extension DaemonProcessTests {
    @Test
    func twoInstancesOnPostgreSQLShareTheWorkAndOneTakesOverWhenTheOtherDies() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["CONSENTINEL_TEST_POSTGRES_URL"],
                               "run the tests through scripts/test.sh, which starts PostgreSQL")
        // Each instance writes its own files; the Kafka output path is covered by the crash test. (librdkafka 2.0.2's
        // mock broker can hold back a second producer's sends after a first one is killed mid-flight.)
        let fixture = try DaemonFixture(stateURL: url, group: "scale-out", violationsFile: "out/${INSTANCE}-violations.jsonl",
                                        deadLettersFile: "out/${INSTANCE}-dead-letters.jsonl", kafkaSinks: false)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, end) = fixture.traffic(events: 4_000, seed: 44)
        let expected = try fixture.replayIDs(lines, end: end)
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        let a = try DaemonProcess(config: config, environment: fixture.environment.merging(["INSTANCE": "a"]) { _, n in n },
                                  log: fixture.directory.appendingPathComponent("a.log"))
        let b = try DaemonProcess(config: config, environment: fixture.environment.merging(["INSTANCE": "b"]) { _, n in n },
                                  log: fixture.directory.appendingPathComponent("b.log"))
        let producing = Task { try await fixture.produce(lines, end: end) }
        // Kill the first instance once the group has split the partitions between the two.
        try await waitUntil("both instances to own partitions", timeout: .seconds(60)) {
            a.logText.contains("partition assigned") && b.logText.contains("partition assigned")
        }
        try await Task.sleep(for: .milliseconds(500))
        a.kill(SIGKILL)
        _ = await a.exitCode(within: .seconds(5))
        try await producing.value
        // Both instances may append to either file (whoever holds a row publishes it): every line must stay whole.
        var unreadable: [String] = []
        func ids(_ instance: String) -> [String] {
            let path = fixture.directory.appendingPathComponent("out/\(instance)-violations.jsonl").path
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let v = try? JSONValue.parse(String(line)) else {
                    unreadable.append(String(line.prefix(200)))
                    return nil
                }
                guard case .string(let id)? = v["id"] else { return nil }
                return id
            }
        }
        try? await waitUntil("every violation", timeout: .seconds(90)) { Set(ids("a") + ids("b")).count >= expected.count }
        unreadable = []
        let published = Set(ids("a") + ids("b"))
        #expect(unreadable.isEmpty, "lines that are not JSON: \(unreadable.prefix(3))")
        let survivorMetrics = published == expected ? "" : await b.metricsText()
        #expect(published == expected,
                "missing: \(expected.subtracting(published).count), extra: \(published.subtracting(expected).count)\n\(b.logText.suffix(2_000))\n\(survivorMetrics)")
        #expect(!ids("b").isEmpty, "the survivor found violations")
        b.kill(SIGTERM)
        #expect(await b.exitCode(within: .seconds(10)) == 0)
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
