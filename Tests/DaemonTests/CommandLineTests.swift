import Daemon
import Events
import Foundation
import Kafka
import Replay
import Rules
import Testing

/// The built `consentinel` executable, run as a person would: under a pseudo-terminal (util-linux `script`, which
/// scripts/setup.sh installs), with standard error in a file, and against a mock Kafka cluster over TCP.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CommandLineTests {
    /// `.build/debug/consentinel`; `swift build --build-tests` (scripts/test.sh) builds it before the tests run.
    static let binary = Fixtures.root.appendingPathComponent(".build/debug/consentinel").path

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Files rather than pipes: nothing can fill up and block the child.
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus,
                       stdout: try String(contentsOf: out, encoding: .utf8),
                       stderr: try String(contentsOf: err, encoding: .utf8))
    }

    @Test func versionNamesTheReleaseAndTheLibraries() throws {
        try Self.requireBinary()
        let out = try Self.run(Self.binary, ["--version"])
        #expect(out.status == 0)
        #expect(out.stdout == BuildInfo.description + "\n")
        #expect(out.stdout.hasPrefix(BuildInfo.version + " (Swift 6."), "\(out.stdout)")
    }

    /// `-` is standard output for every output option, never a file named `-`.
    @Test func aDashMeansStandardOutput() throws {
        try Self.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.generated(dir, events: 2_000)
        let file = dir.appendingPathComponent("v.jsonl").path
        let base = ["replay", "--pipeline", Fixtures.defaultPipeline, "--input", input.path, "--quiet"]
        let toFile = try Self.run(Self.binary, base + ["--violations", file], in: dir)
        let toStdout = try Self.run(Self.binary, base + ["--violations", "-"], in: dir)
        #expect(toFile.status == 0 && toStdout.status == 0, "\(toStdout.stderr)")
        let written = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!toStdout.stdout.isEmpty && toStdout.stdout == written)
        let letters = try Self.run(Self.binary, base + ["--violations", file, "--dead-letters", "-"], in: dir)
        #expect(letters.status == 0 && letters.stdout.contains("\"reason\":\""), "\(letters.stderr)")
        let both = try Self.run(Self.binary, base + ["--violations", "-", "--dead-letters", "-"], in: dir)
        #expect(both.status == 64 && both.stderr.contains("only one output can go to standard output"))
        let gen = try Self.run(Self.binary, ["gen", "--events", "10", "-o", "-"], in: dir)
        #expect(gen.status == 0 && gen.stdout.split(separator: "\n").count >= 10)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path), "no file named -")
    }

    @Test func policyRenderAndDiffFromPipelines() throws {
        try Self.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = try Self.run(Self.binary, ["policy", "render", "--pipeline", Fixtures.defaultPipeline, "--format", "json"])
        #expect(json.status == 0 && (try? JSONValue.parse(json.stdout))?["erasure_within_seconds"] == .int(2_592_000), "\(json.stderr)")
        let html = try Self.run(Self.binary, ["policy", "render", "--pipeline", Fixtures.defaultPipeline, "--lang", "fr",
                                              "--output", dir.appendingPathComponent("notice.html").path])
        #expect(html.status == 0)
        #expect((try String(contentsOf: dir.appendingPathComponent("notice.html"), encoding: .utf8)).contains("lang=\"fr\""))

        let changed = dir.appendingPathComponent("p")
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline, toPath: changed.path)
        let retention = changed.appendingPathComponent("rules/retention.yaml")
        try (try String(contentsOf: retention, encoding: .utf8)).replacingOccurrences(of: "keep: 365d", with: "keep: 180d")
            .write(to: retention, atomically: true, encoding: .utf8)
        let diff = try Self.run(Self.binary, ["policy", "diff", Fixtures.defaultPipeline, changed.path])
        #expect(diff.status == 0 && diff.stdout == "We now keep “How you use our services” for 180 days instead of 1 year.\n", "\(diff.stdout)")
        let same = try Self.run(Self.binary, ["policy", "diff", Fixtures.defaultPipeline, Fixtures.defaultPipeline])
        #expect(same.stdout == "Nothing changes for you.\n")
        try "- rule: broken\n".write(to: changed.appendingPathComponent("rules/zz.yaml"), atomically: true, encoding: .utf8)
        let bad = try Self.run(Self.binary, ["policy", "render", "--pipeline", changed.path])
        #expect(bad.status == 2 && bad.stdout.contains("zz.yaml"), "\(bad.stdout)\(bad.stderr)")
    }

    static func requireBinary() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary),
                     "build the executable first (swift build --build-tests, as scripts/test.sh does): \(binary)")
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func generated(_ dir: URL, events: Int) throws -> URL {
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(Array(EventGenerator(.init(events: events, subjects: 300, seed: 9, months: 2))), to: input)
        return input
    }

    @Test func onATerminalReplayDrawsABarInPlace() throws {
        try Self.requireBinary()
        let script = "/usr/bin/script"
        try #require(FileManager.default.isExecutableFile(atPath: script), "util-linux script: run scripts/setup.sh")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.generated(dir, events: 30_000)
        let command = [Self.binary, "replay", "--pipeline", Fixtures.defaultPipeline, "--input", input.path,
                       "--violations", dir.appendingPathComponent("v.jsonl").path].map(Self.shellQuote).joined(separator: " ")
        // script runs the command under a new pseudo-terminal and copies what it writes to our stdout.
        let outcome = try Self.run(script, ["-qfec", command, "/dev/null"])
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        let screen = outcome.stdout
        let redraws = screen.components(separatedBy: "\r").filter { $0.contains("ev/s") }
        #expect(redraws.count >= 2, "a bar drawn at least at the start and the end: \(screen.prefix(2_000))")
        #expect(screen.contains("ETA "))
        #expect(screen.contains("\u{1B}[K"))
        #expect(screen.contains("100%"))
        #expect(screen.contains("lines"))
        #expect(screen.contains("replay summary"))
        #expect(screen.contains("violations by rule"))
        #expect(!screen.contains("replay: "), "no plain progress lines on a terminal")
    }

    @Test func withStandardErrorInAFileReplayPrintsPlainLinesAndASummaryTable() throws {
        try Self.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.generated(dir, events: 30_000)
        let violations = dir.appendingPathComponent("v.jsonl")
        let outcome = try Self.run(Self.binary, [
            "replay", "--pipeline", Fixtures.defaultPipeline, "--input", input.path, "--violations", violations.path,
            "--dead-letters", dir.appendingPathComponent("d.jsonl").path, "--digests", dir.appendingPathComponent("dig").path,
            "--until", "2026-03-01T00:00:00Z", "--progress-interval", "0.2",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let err = outcome.stderr
        #expect(!err.contains("\r"))
        let plain = err.split(separator: "\n").filter { $0.hasPrefix("replay: ") }
        #expect(plain.count >= 1, "periodic lines every 0.2 s: \(err)")
        #expect(plain.allSatisfy { $0.contains("events/s") && $0.contains("ETA") && $0.contains("MiB") })
        for label in ["replay summary", "events", "duplicates", "late", "dead letters", "violations", "digests written",
                      "2026-01, 2026-02", "elapsed", "events/s", "violations by rule", "severity", "role-access"] {
            #expect(err.contains(label), "summary shows \(label)")
        }
        // The same numbers as the library's replay.
        let summary = try ReplayJob(pipeline: try PipelineLoader().load(directory: Fixtures.defaultPipeline), options: .init(
            inputs: [input.path], until: Timestamp(rfc3339: "2026-03-01T00:00:00Z"),
            violations: dir.appendingPathComponent("again.jsonl").path)).run()
        let total = summary.violations.values.reduce(0, +)
        #expect(err.contains(Self.grouped(total)))
        #expect(try String(contentsOf: violations, encoding: .utf8)
                == String(contentsOf: dir.appendingPathComponent("again.jsonl"), encoding: .utf8))

        let quiet = try Self.run(Self.binary, [
            "replay", "--pipeline", Fixtures.defaultPipeline, "--input", input.path, "--violations", violations.path,
            "--quiet", "--progress-interval", "0.2",
        ])
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty)
    }

    @Test func compareFromTheCommandLineWritesAReport() throws {
        try Self.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.generated(dir, events: 5_000)
        let other = dir.appendingPathComponent("other")
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline, toPath: other.path)
        let rules = other.appendingPathComponent("rules/access.yaml")
        try String(contentsOf: rules, encoding: .utf8).replacingOccurrences(of: "severity: high\n  description: Data is shared", with: "severity: high\n  enabled: false\n  description: Data is shared")
            .write(to: rules, atomically: true, encoding: .utf8)
        let report = dir.appendingPathComponent("report.json")
        let outcome = try Self.run(Self.binary, [
            "replay", "--pipeline", Fixtures.defaultPipeline, "--input", input.path,
            "--violations", dir.appendingPathComponent("v.jsonl").path, "--compare", other.path,
            "--compare-report", report.path, "--quiet",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("only old"))
        let json = try JSONValue.parse(String(contentsOf: report, encoding: .utf8))
        guard case .array(let rows)? = json["rules"] else { Issue.record("no rules in \(json)"); return }
        let row = rows.first { $0["rule"] == .string("undisclosed-recipient") }
        #expect(row?["only_new"] == .int(0))
        if case .int(let n)? = row?["only_old"] { #expect(n > 0) } else { Issue.record("no only_old") }
    }

    @Test func genProducesToATopic() async throws {
        try Self.requireBinary()
        let cluster = try MockCluster(brokers: 3, logHandler: { _ in })
        let topic = "gen-\(UUID().uuidString)"
        try cluster.createTopic(topic, partitions: 3)
        let outcome = try Self.run(Self.binary, [
            "gen", "--events", "1000", "--subjects", "40", "--seed", "8", "--topic", topic,
            "--bootstrap", cluster.bootstrapServers,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = Array(EventGenerator(.init(events: 1000, subjects: 40, seed: 8)))
        #expect(outcome.stderr.contains("produced \(lines.count) events to \(topic)"))

        var config = ConsumerConfiguration(bootstrapServers: [cluster.bootstrapServers], groupID: "check-\(UUID().uuidString)", topics: [])
        config.logHandler = { _ in }
        let partitions = (0..<3).map { TopicPartitionOffset(topic: topic, partition: Int32($0), offset: 0) }
        let reader = try Consumer(configuration: config, assignment: partitions)
        var messages: [ConsumerMessage] = []
        for try await event in reader.events {
            guard case .messages(let batch) = event else { continue }
            messages += batch.messages
            if messages.count >= lines.count { break }
        }
        await reader.shutdown()
        #expect(messages.count == lines.count)
        // Keyed by subject, stamped with the event time, each customer's events in the order generated.
        var bySubject: [String: [String]] = [:]
        for m in messages.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            let value = String(decoding: m.value, as: UTF8.self)
            guard let v = try? JSONValue.parse(value), case .string(let subject)? = v["subject"],
                  case .string(let t)? = v["time"], let time = Timestamp(rfc3339: t) else { continue }
            #expect(m.key == Array(subject.utf8))
            #expect(m.timestampMilliseconds == time.microseconds / 1000)
            bySubject[subject, default: []].append(value)
        }
        var expected: [String: [String]] = [:]
        for line in lines {
            guard let v = try? JSONValue.parse(line), case .string(let subject)? = v["subject"],
                  case .string(let t)? = v["time"], Timestamp(rfc3339: t) != nil else { continue }
            expected[subject, default: []].append(line)
        }
        #expect(bySubject == expected)
    }

    @Test func portalLinkPrintsASignedLinkAndChecksItsArguments() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline + "/rules", toPath: dir.appendingPathComponent("rules").path)
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline + "/lists", toPath: dir.appendingPathComponent("lists").path)
        let config = dir.appendingPathComponent("pipeline.yaml")
        try "name: p\n".write(to: config, atomically: true, encoding: .utf8)
        let none = try Self.run(Self.binary, ["portal", "link", "--config", config.path, "--subject", "cust-1", "--month", "2026-01"])
        #expect(none.status == 1 && none.stderr.contains("no portal section"), "\(none.stderr)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("secrets"), withIntermediateDirectories: true)
        let secret = "a-secret-of-forty-eight-characters-for-the-tests"
        try (secret + "\n").write(to: dir.appendingPathComponent("secrets/portal"), atomically: true, encoding: .utf8)
        try """
            name: p
            portal: { secret_file: secrets/portal, consent_topic: privacy.events, base_url: "https://privacy.example.com/", link_ttl: 2d }
            """.write(to: config, atomically: true, encoding: .utf8)
        let ok = try Self.run(Self.binary, ["portal", "link", "--config", config.path, "--subject", "cust-1", "--month", "2026-01"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let url = ok.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("https://privacy.example.com/portal/") && url.split(separator: ".").count == 4, "\(url)")
        #expect(!ok.stdout.contains(secret) && !ok.stderr.contains(secret))
        let badMonth = try Self.run(Self.binary, ["portal", "link", "--config", config.path, "--subject", "cust-1", "--month", "2026-1"])
        #expect(badMonth.status == 64, "\(badMonth.stderr)")
        let badTTL = try Self.run(Self.binary, ["portal", "link", "--config", dir.path, "--subject", "c", "--month", "2026-01", "--ttl", "soon"])
        #expect(badTTL.status == 64, "\(badTTL.stderr)")
        try "name: p\nportal: { secret: short, consent_topic: t }\n".write(to: config, atomically: true, encoding: .utf8)
        let weak = try Self.run(Self.binary, ["portal", "link", "--config", config.path, "--subject", "cust-1", "--month", "2026-01"])
        #expect(weak.status == 1 && weak.stderr.contains("at least 32 bytes"), "\(weak.stderr)")
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return out
    }
}
