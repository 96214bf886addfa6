import Daemon
import Digests
import Events
import Foundation
import Kafka
import Replay
import Rules
import Testing

/// Rules keyed by other than the subject (`bulk-access`: a threshold grouped by actor) see all their traffic in the
/// daemon, whatever the partitioning: every output is the replay's.
@Suite(.serialized) struct RepartitionTests {
    static let month = Timestamp(rfc3339: "2026-01-01T00:00:00Z")!

    /// What a replay of the same lines writes: violations, dead letters and January's digests.
    struct Outputs {
        var violations: Set<String>
        var deadLetters: [String]
        var subjects: String
        var org: String

        var bulkAccess: Int { violations.filter { $0.contains(#""rule":"bulk-access""#) }.count }
    }

    static func replay(_ fixture: DaemonFixture, _ lines: [String], until: Timestamp) throws -> Outputs {
        let out = try fixture.replayAll(lines, until: until)
        return try outputs(in: out, violations: "violations.jsonl", deadLetters: "dead-letters.jsonl", digests: "digests")
    }

    static func outputs(in folder: URL, violations: String, deadLetters: String, digests: String) throws -> Outputs {
        func lines(_ name: String) -> [String] {
            ((try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let monthFolder = folder.appendingPathComponent(digests).appendingPathComponent(month.monthKey)
        // Dead letters compared by reason and raw bytes: their origins differ (file lines vs. offsets).
        let dead = try lines(deadLetters).map { line -> String in
            let v = try JSONValue.parse(line)
            return "\(v["reason"].map { "\($0)" } ?? "")|\(v["raw"].map { "\($0)" } ?? "")"
        }.sorted()
        return Outputs(
            violations: Set(lines(violations)), deadLetters: dead,
            subjects: (try? String(contentsOf: monthFolder.appendingPathComponent("subjects.jsonl"), encoding: .utf8)) ?? "",
            org: (try? String(contentsOf: monthFolder.appendingPathComponent("org.json"), encoding: .utf8)) ?? "")
    }

    static func fixture(stateURL: String? = nil, group: String = "repartition", instanceFiles: Bool = false) throws -> DaemonFixture {
        let prefix = instanceFiles ? "${INSTANCE}-" : ""
        let fixture = try DaemonFixture(
            stateURL: stateURL, group: group, violationsFile: "out/\(prefix)violations.jsonl",
            deadLettersFile: "out/\(prefix)dead-letters.jsonl", extraSinks: "digests: { topic: privacy.digests, file: out/digests }",
            partitions: 6)
        try fixture.cluster.createTopic("privacy.digests", partitions: 1)
        return fixture
    }

    /// Traffic of one month with a bulk export every 1,000 events (about half of them stay within one 10-minute window), each sweeping customers of every partition.
    static func traffic(_ fixture: DaemonFixture, seed: UInt64) -> (lines: [String], end: Timestamp) {
        fixture.traffic(events: 12_000, seed: seed, subjects: 600, bulkExportEvery: 1_000)
    }

    static func expectSame(_ daemon: Outputs, _ replay: Outputs) {
        #expect(daemon.violations.count == replay.violations.count)
        #expect(daemon.violations == replay.violations,
                "only in the daemon: \(daemon.violations.subtracting(replay.violations).prefix(2)); only in the replay: \(replay.violations.subtracting(daemon.violations).prefix(2))")
        #expect(daemon.bulkAccess == replay.bulkAccess)
        #expect(daemon.deadLetters == replay.deadLetters)
        #expect(daemon.subjects == replay.subjects, "\(DaemonDigestTests.differingLines(daemon.subjects, replay.subjects).prefix(1_500))")
        #expect(daemon.org == replay.org, "org.json differs:\n\(DaemonDigestTests.differingLines(daemon.org, replay.org))")
    }

    @Test func bulkExportsAcrossSixPartitionsAreFoundAsInAReplay() async throws {
        let fixture = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, end) = Self.traffic(fixture, seed: 81)
        let expected = try Self.replay(fixture, lines, until: end - .minutes(5))
        #expect(expected.bulkAccess >= 4, "the traffic holds bulk exports")
        #expect(!expected.subjects.isEmpty)

        let (daemon, _) = try await fixture.startInProcess(logLevel: .warning)
        defer { daemon.cancel() }
        let reports = try await fixture.produce(lines, end: end)
        let exporterPartitions = Set(zip(lines, reports).filter { $0.0.contains("exporter@corp") }.map(\.1.partition))
        #expect(exporterPartitions.count == 6, "the exporter's accesses are spread over every partition")

        let out = fixture.directory.appendingPathComponent("out")
        try? await waitUntil("the month's digests and every violation", timeout: .seconds(120)) {
            let o = try? Self.outputs(in: out, violations: "violations.jsonl", deadLetters: "dead-letters.jsonl", digests: "digests")
            return o.map { !$0.org.isEmpty && $0.violations.count >= expected.violations.count } ?? false
        }
        Self.expectSame(try Self.outputs(in: out, violations: "violations.jsonl", deadLetters: "dead-letters.jsonl", digests: "digests"),
                        expected)
    }

    @Test func twoInstancesOnPostgreSQLOneStoppedMidStreamFindWhatAReplayFinds() async throws {
        let fixture = try Self.fixture(stateURL: try DaemonDigestTests.postgresURL(), group: "repartition-pg", instanceFiles: true)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, end) = Self.traffic(fixture, seed: 82)
        let expected = try Self.replay(fixture, lines, until: end - .minutes(5))
        #expect(expected.bulkAccess >= 4, "the traffic holds bulk exports")

        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        func start(_ name: String) throws -> DaemonProcessTests.DaemonProcess {
            try DaemonProcessTests.DaemonProcess(config: config, environment: fixture.environment.merging(["INSTANCE": name]) { _, n in n },
                                                 log: fixture.directory.appendingPathComponent("\(name).log"))
        }
        let a = try start("a"), b = try start("b")
        defer { a.kill(SIGKILL); b.kill(SIGKILL) }
        try await waitUntil("both instances to own partitions and keyed tasks", timeout: .seconds(60)) {
            a.logText.contains("keyed task assigned") && b.logText.contains("keyed task assigned")
        }
        let half = lines.count / 2
        try await fixture.produce(Array(lines[..<half]), end: nil)
        a.kill(SIGTERM)
        #expect(await a.exitCode(within: .seconds(20)) == 0)
        try await fixture.produce(Array(lines[half...]), end: end)

        let out = fixture.directory.appendingPathComponent("out")
        func outputs() throws -> Outputs {
            var all = try Self.outputs(in: out, violations: "a-violations.jsonl", deadLetters: "a-dead-letters.jsonl", digests: "digests")
            let other = try Self.outputs(in: out, violations: "b-violations.jsonl", deadLetters: "b-dead-letters.jsonl", digests: "digests")
            all.violations.formUnion(other.violations)
            all.deadLetters = (all.deadLetters + other.deadLetters).sorted()
            return all
        }
        try? await waitUntil("the month's digests and every violation", timeout: .seconds(120)) {
            (try? outputs()).map { !$0.org.isEmpty && $0.violations.count >= expected.violations.count } ?? false
        }
        let found = try outputs()
        Self.expectSame(found, expected)
        func tasks(_ log: String) -> Set<String> {
            Set(log.split(separator: "\n").filter { $0.contains("keyed task assigned") }.compactMap { line in
                line.range(of: #"bulk-access\[[0-9]+\]"#, options: .regularExpression).map { String(line[$0]) }
            })
        }
        #expect(!tasks(a.logText).isEmpty && tasks(a.logText).count < 6, "the group split the keyed tasks: \(tasks(a.logText))")
        #expect(tasks(b.logText).count == 6, "the survivor took over the stopped instance's keyed tasks: \(tasks(b.logText))")
    }
}
