import Daemon
import Digests
import Events
import Foundation
import Kafka
import Replay
import Rules
import Testing

/// The daemon's monthly digests (kept in each partition's state, closed when the watermark passes the month's end)
/// are those a replay of the same events writes, also when the daemon restarts in the middle of the month.
@Suite(.serialized) struct DaemonDigestTests {
    static let month = Timestamp(rfc3339: "2026-01-01T00:00:00Z")!

    /// A daemon with digests to a topic and a folder.
    static func fixture(stateURL: String? = nil, extraSettings: String = "") throws -> DaemonFixture {
        let fixture = try DaemonFixture(stateURL: stateURL, extraSinks: "digests: { topic: privacy.digests, file: out/digests }",
                                        extraSettings: extraSettings)
        try fixture.cluster.createTopic("privacy.digests", partitions: 1)
        return fixture
    }

    /// The digests a replay of `lines` writes for January, in `DIR/2026-01/`.
    static func replayDigests(_ fixture: DaemonFixture, _ lines: [String]) throws -> URL {
        let input = fixture.directory.appendingPathComponent("replay-input.jsonl")
        try Fixtures.write(lines, to: input)
        let digests = fixture.directory.appendingPathComponent("replay-digests")
        let pipeline = try PipelineLoader().load(directory: fixture.directory.path)
        _ = try ReplayJob(pipeline: pipeline, options: .init(
            inputs: [input.path], until: month.startOfNextMonth,
            violations: fixture.directory.appendingPathComponent("replay-violations.jsonl").path, digests: digests.path)).run()
        return digests.appendingPathComponent(month.monthKey)
    }

    /// Valid, invalid and duplicate messages the daemon has read, from its metrics.
    static func messagesRead(_ base: String) async -> Double {
        let samples = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
        return samples.sum("consentinel_events_total") + samples.sum("consentinel_dead_letters_total")
            + samples.sum("consentinel_duplicate_events_total")
    }

    /// The lines of `a` and `b` that differ, side by side (for failure messages).
    static func differingLines(_ a: String, _ b: String) -> String {
        let x = a.split(separator: "\n"), y = b.split(separator: "\n")
        return (0..<max(x.count, y.count)).compactMap { i -> String? in
            let l = i < x.count ? String(x[i]) : "", r = i < y.count ? String(y[i]) : ""
            return l == r ? nil : "daemon: \(l)\nreplay: \(r)"
        }.joined(separator: "\n")
    }

    /// A new schema in the PostgreSQL database of `CONSENTINEL_TEST_POSTGRES_URL` (scripts/test.sh starts one).
    static func postgresURL() throws -> String {
        let base = try #require(ProcessInfo.processInfo.environment["CONSENTINEL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 },
                                "run the tests through scripts/test.sh, which starts PostgreSQL")
        let unique = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return base + (base.contains("?") ? "&" : "?") + "schema=d_\(unique)"
    }

    @Test(arguments: [(false, "sqlite"), (true, "sqlite"), (true, "postgres")])
    func theDaemonsDigestsAreTheReplays(restartMidMonth: Bool, store: String) async throws {
        let fixture = try Self.fixture(stateURL: store == "postgres" ? try Self.postgresURL() : nil)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, _) = fixture.traffic(events: 2_500, seed: restartMidMonth ? 52 : 51)
        let expected = try Self.replayDigests(fixture, lines)
        let expectedSubjects = try String(contentsOf: expected.appendingPathComponent("subjects.jsonl"), encoding: .utf8)
        let expectedOrg = try String(contentsOf: expected.appendingPathComponent("org.json"), encoding: .utf8)
        #expect(expectedSubjects.split(separator: "\n").count > 100)

        // The restart is the platform team's: the first daemon stops as on SIGTERM (its last checkpoint written).
        let stopper = DaemonApp.Stopper()
        var (daemon, base, _) = try await fixture.startInProcess(logLevel: .warning, portal: false, stopper: stopper)
        let monthEnd = Self.month.startOfNextMonth + .minutes(10)
        if restartMidMonth {
            let half = lines.count / 2
            try await fixture.produce(Array(lines[..<half]), end: nil)
            try await waitUntil("the first half read", timeout: .seconds(60)) { await Self.messagesRead(base) >= Double(half) }
            await stopper.stop()
            _ = try? await daemon.value
            (daemon, base) = try await fixture.startInProcess(logLevel: .warning)
            try await fixture.produce(Array(lines[half...]), end: monthEnd)
        } else {
            try await fixture.produce(lines, end: monthEnd)
        }
        defer { daemon.cancel() }

        let written = fixture.directory.appendingPathComponent("out/digests/\(Self.month.monthKey)")
        try await waitUntil("the month's digests", timeout: .seconds(90)) {
            FileManager.default.fileExists(atPath: written.appendingPathComponent("org.json").path)
        }
        let subjects = try String(contentsOf: written.appendingPathComponent("subjects.jsonl"), encoding: .utf8)
        #expect(subjects == expectedSubjects)
        let writtenOrg = try String(contentsOf: written.appendingPathComponent("org.json"), encoding: .utf8)
        #expect(writtenOrg == expectedOrg, "org.json differs from the replay's:\n\(Self.differingLines(writtenOrg, expectedOrg))")
        // Counted once the month's outputs are committed, a moment after the folder's files are written.
        try? await waitUntil("the month counted as closed", timeout: .seconds(30)) {
            PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "").sum("consentinel_digest_months_closed_total") >= 1
        }
        let metrics = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
        #expect(metrics.sum("consentinel_digest_months_closed_total") == 1)
        #expect(try OrgDigest(jsonText: expectedOrg).lateEvents == 0, "no event is late: each partition's disorder is within the lateness")

        let subjectLines = Set(expectedSubjects.split(separator: "\n").map(String.init))
        let messages = try await readTopic(fixture, "privacy.digests", timeout: .seconds(60)) { $0.count >= subjectLines.count + 1 }
        let values = messages.map { String(decoding: $0.value, as: UTF8.self) }
        #expect(messages.count == subjectLines.count + 1, "one message per subject and one for the organisation")
        #expect(Set(values).subtracting(subjectLines).count == 1)
        let org = try #require(messages.first { $0.key == Array("org:\(Self.month.monthKey)".utf8) })
        #expect(try OrgDigest(jsonText: String(decoding: org.value, as: UTF8.self)).json.pretty() + "\n" == expectedOrg)
        for m in messages where m.key != org.key {
            let digest = try SubjectDigest(jsonText: String(decoding: m.value, as: UTF8.self))
            #expect(m.key == Array(digest.subject.utf8), "keyed by subject")
        }
    }
}
