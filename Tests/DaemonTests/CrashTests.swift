import Daemon
import Events
import Foundation
import Kafka
import Replay
import Rules
import Synchronization
import Testing

/// The daemon SIGKILLed again and again while a producer feeds its topic, at random moments and on purpose in each
/// phase of its work; once the last instance has drained, its outputs are those of a replay without crashes.
@Suite(.serialized) struct CrashTests {
    typealias DaemonProcess = DaemonProcessTests.DaemonProcess

    /// What a killed instance was doing when it died, read from its trace log (the stages its services entered).
    enum Phase: String, CaseIterable, CustomStringConvertible {
        case startUp = "start-up", rebalance, commit, publishing
        var description: String { rawValue }
    }

    /// Stages of the pipeline service that are a rebalance, and the stage names of the other phases.
    static let rebalanceStages: Set = [
        "loading assigned partitions", "seeking", "revoking partitions", "writing a checkpoint before revoking partitions",
    ]
    static let commitStages: Set = [
        "committing a checkpoint to the state store", "committing a batch's outputs to the state store", "storing consumed offsets",
    ]
    static let publishingStages: Set = ["publishing to Kafka", "writing output files", "marking outputs sent"]

    /// The log of one instance: its lines after `offset` of the shared log file, read as they come.
    final class LogTail {
        let url: URL
        private var offset: UInt64
        private var partial = Data()
        private(set) var lines: [JSONValue] = []

        init(url: URL) {
            self.url = url
            offset = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? UInt64) ?? 0
        }

        /// Reads what was appended since the last call.
        func read() {
            guard let handle = try? FileHandle(forReadingFrom: url) else { return }
            defer { try? handle.close() }
            try? handle.seek(toOffset: offset)
            let data = handle.readDataToEndOfFile()
            offset += UInt64(data.count)
            partial.append(data)
            while let newline = partial.firstIndex(of: 10) {
                let line = partial[partial.startIndex..<newline]
                partial = Data(partial[partial.index(after: newline)...])
                if let value = try? JSONValue.parse(String(decoding: line, as: UTF8.self)) { lines.append(value) }
            }
        }

        func messages(_ message: String) -> [JSONValue] { lines.filter { $0["message"] == .string(message) } }

        /// The stage `service` entered last.
        func lastStage(of service: String) -> String? {
            for line in lines.reversed() where line["message"] == .string("stage") && line["service"] == .string(service) {
                if case .string(let stage)? = line["stage"] { return stage }
            }
            return nil
        }

        /// The phases the instance was in when its log ends.
        var phases: Set<Phase> {
            var phases: Set<Phase> = []
            if messages("partition assigned").isEmpty { phases.insert(.startUp) }
            if let stage = lastStage(of: "pipeline") {
                if CrashTests.rebalanceStages.contains(stage) { phases.insert(.rebalance) }
                if CrashTests.commitStages.contains(stage) { phases.insert(.commit) }
            }
            if let stage = lastStage(of: "outbox publisher"), CrashTests.publishingStages.contains(stage) { phases.insert(.publishing) }
            return phases
        }
    }

    /// How each instance is killed, in turn: early in its start, as soon as its log shows a phase, or after a random
    /// delay.
    enum Aim {
        case startUp(milliseconds: Int)
        case phase(Phase)
        case random(milliseconds: Int)
    }

    /// The minimum of kills, and the most the test makes while some phase has not been hit.
    static let kills = 20
    static let maximumKills = 40
    /// Rows a publisher leases and sends in one round: each kill can leave at most these sent but not marked sent.
    static let publishRound = 1_000

    @Test func killedTwentyTimesUnderLiveLoadItLosesAndInventsNothing() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: DaemonProcessTests.binary), "build the executable first (scripts/test.sh does)")
        let fixture = try DaemonFixture(group: "crash-test", extraSinks: "digests: { topic: privacy.digests, file: out/digests }\n  lease: 10s")
        try fixture.cluster.createTopic("privacy.digests", partitions: 1)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let (lines, _) = fixture.traffic(events: 8_000, seed: 33, subjects: 400, bulkExportEvery: 1_000)
        let month = DaemonDigestTests.month
        let end = month.startOfNextMonth + .minutes(10)
        let reference = try Self.replay(fixture, lines, until: end - .minutes(5))
        #expect(reference.violations.count > 200 && reference.violations.values.contains { $0.contains(#""rule":"bulk-access""#) })
        #expect(reference.deadLetters.count > 20)
        let config = fixture.directory.appendingPathComponent("pipeline.yaml")
        let log = fixture.directory.appendingPathComponent("daemon.log")

        // The producer feeds the topic at a steady pace all through the kills (about 80 events a second).
        let producing = Task { try await fixture.produce(lines, end: nil, chunk: 40, pause: .milliseconds(500)) }
        let clock = ContinuousClock.now
        var timeline: [String] = []
        var rng = SplitMix64(seed: 7)
        var hit: [Phase: Int] = [:]
        var kills = 0
        while kills < Self.kills || (hit.count < Phase.allCases.count && kills < Self.maximumKills) {
            let aim: Aim = switch kills % 5 {
            case 0: .startUp(milliseconds: Int(rng.next() % 500))
            case 1: .phase(.rebalance)
            case 2: .phase(.commit)
            case 3: .phase(.publishing)
            default: .random(milliseconds: Int(100 + rng.next() % 2_500))
            }
            let tail = LogTail(url: log)
            let daemon = try DaemonProcess(config: config, environment: fixture.environment, log: log, arguments: ["--log-level", "trace"])
            try await Self.wait(for: aim, tail: tail)
            daemon.kill(SIGKILL)
            #expect(await daemon.exitCode(within: .seconds(5)) != nil)
            kills += 1
            tail.read()
            for phase in tail.phases { hit[phase, default: 0] += 1 }
            timeline.append("\(ContinuousClock.now - clock) \(aim) \(tail.phases.map(\.rawValue).sorted())")
        }
        print("crash test timeline:\n" + timeline.joined(separator: "\n"))
        try await producing.value
        try await fixture.produce([], end: end)
        print("crash test: \(kills) SIGKILLs; phases hit: \(Phase.allCases.map { "\($0) \(hit[$0] ?? 0)" }.joined(separator: ", "))")
        #expect(kills >= Self.kills)
        for phase in Phase.allCases {
            #expect(hit[phase, default: 0] >= 1, "no instance was killed during \(phase) in \(kills) kills")
        }

        let last = try DaemonProcess(config: config, environment: fixture.environment, log: log)
        let digestFolder = fixture.directory.appendingPathComponent("out/digests/\(month.monthKey)")
        // Rows leased by a killed publisher are published once their lease (`sinks.lease`, 10 s here) has run out.
        try? await waitUntil("every output of the last instance", timeout: .seconds(150)) {
            Set(fixture.fileIDs()) == Set(reference.violations.keys)
                && FileManager.default.fileExists(atPath: digestFolder.appendingPathComponent("org.json").path)
                && Self.outputs(fixture.deadLettersFile, id: "origin").count >= reference.deadLetters.count
        }

        print("crash test: drained at \(ContinuousClock.now - clock)")
        // Violations: the file and the topic hold exactly the replay's, each at least once.
        let fileViolations = Self.outputs(fixture.violationsFile)
        let topicViolations = try await Self.topic(fixture, "privacy.violations", expecting: reference.violations.count)
        for (name, found) in [("file", fileViolations), ("topic", topicViolations)] {
            let ids = Set(found.keys), expected = Set(reference.violations.keys)
            #expect(ids == expected, "\(name): lost \(expected.subtracting(ids).count), invented \(ids.subtracting(expected).count)")
            let differing = found.filter { id, copies in reference.violations[id].map { r in copies.contains { $0 != r } } ?? false }
            #expect(differing.isEmpty, "\(name): \(differing.count) violations differ from the replay's, e.g. \(differing.first.map { "\($0.value)" } ?? "")")
        }
        // Dead letters: the replay's, by reason and raw text; each message's at least once (by its origin).
        let fileDead = Self.outputs(fixture.deadLettersFile, id: "origin")
        let topicDead = try await Self.topic(fixture, "privacy.dead-letters", id: "origin", expecting: reference.deadLetters.count)
        for (name, found) in [("file", fileDead), ("topic", topicDead)] {
            let letters = found.values.compactMap { $0.first.flatMap(Self.deadLetterKey) }.sorted()
            #expect(letters == reference.deadLetters.sorted(), "\(name): \(letters.count) dead letters, the replay \(reference.deadLetters.count)")
        }
        // The closed month's digests: the folder as the replay writes it, and each digest on the topic.
        let subjects = try String(contentsOf: digestFolder.appendingPathComponent("subjects.jsonl"), encoding: .utf8)
        let org = try String(contentsOf: digestFolder.appendingPathComponent("org.json"), encoding: .utf8)
        #expect(subjects == reference.subjects)
        #expect(org == reference.org, "org.json differs from the replay's:\n\(DaemonDigestTests.differingLines(org, reference.org))")
        let subjectLines = Set(reference.subjects.split(separator: "\n").map(String.init))
        let digestMessages = try await readTopic(fixture, "privacy.digests", timeout: .seconds(30)) {
            Set($0.map(\.key)).count >= subjectLines.count + 1
        }
        var digests: [[UInt8]?: Set<[UInt8]>] = [:]
        for m in digestMessages { digests[m.key, default: []].insert(m.value) }
        #expect(digests.count == subjectLines.count + 1 && digests.values.allSatisfy { $0.count == 1 },
                "one digest per subject and one for the organisation, each copy the same")
        let topicSubjects = Set(digestMessages.filter { $0.key != Array("org:\(month.monthKey)".utf8) }.map { String(decoding: $0.value, as: UTF8.self) })
        #expect(topicSubjects == subjectLines)

        // Copies: a kill can leave one publishing round sent but not marked sent, and nothing else is sent twice.
        let copies = [("violations file", fileViolations), ("violations topic", topicViolations), ("dead-letter file", fileDead),
                      ("dead-letter topic", topicDead)].map { ($0.0, $0.1.values.reduce(0) { $0 + $1.count - 1 }) }
            + [("digests topic", digestMessages.count - digests.count)]
        print("crash test: duplicates by id: \(copies.map { "\($0.0) \($0.1)" }.joined(separator: ", ")); bound \(kills) × \(Self.publishRound)")
        for (name, count) in copies {
            #expect(count <= kills * Self.publishRound, "\(name): \(count) duplicates")
        }

        last.kill(SIGTERM)
        let code = await last.exitCode(within: .seconds(10))
        #expect(code == 0, "exit after SIGTERM: \(code.map(String.init) ?? "still running")\n\(last.logText.suffix(3_000))")
    }

    /// Waits until it is time to kill an instance aimed as `aim`; a phase that does not come within 20 s is given up.
    static func wait(for aim: Aim, tail: LogTail) async throws {
        switch aim {
        case .startUp(let milliseconds):
            try await Task.sleep(for: .milliseconds(milliseconds))
        case .random(let milliseconds):
            try? await waitUntil("partitions", timeout: .seconds(20)) { tail.read(); return !tail.messages("partition assigned").isEmpty }
            try await Task.sleep(for: .milliseconds(milliseconds))
        case .phase(let phase):
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                tail.read()
                if tail.phases.contains(phase), phase != .startUp { return }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// What a replay of the same lines without crashes writes.
    struct Reference {
        var violations: [String: String] = [:]
        var deadLetters: [String] = []
        var subjects = ""
        var org = ""
    }

    static func replay(_ fixture: DaemonFixture, _ lines: [String], until: Timestamp) throws -> Reference {
        let out = try fixture.replayAll(lines, until: until)
        var reference = Reference()
        for v in try JSONValue.lines(ofFile: out.appendingPathComponent("violations.jsonl").path) {
            if case .string(let id)? = v["id"] { reference.violations[id] = v.serialized }
        }
        reference.deadLetters = try JSONValue.lines(ofFile: out.appendingPathComponent("dead-letters.jsonl").path).compactMap(deadLetterKey)
        let month = out.appendingPathComponent("digests/\(DaemonDigestTests.month.monthKey)")
        reference.subjects = try String(contentsOf: month.appendingPathComponent("subjects.jsonl"), encoding: .utf8)
        reference.org = try String(contentsOf: month.appendingPathComponent("org.json"), encoding: .utf8)
        return reference
    }

    /// A dead letter without its origin (a file line in a replay, a topic offset in the daemon).
    static func deadLetterKey(_ letter: JSONValue) -> String? {
        guard case .string(let reason)? = letter["reason"], case .string(let raw)? = letter["raw"] else { return nil }
        return reason + " " + raw
    }

    static func deadLetterKey(_ text: String) -> String? { (try? JSONValue.parse(text)).flatMap(deadLetterKey) }

    /// A string's text, any other value's JSON.
    static func text(_ value: JSONValue) -> String {
        if case .string(let s) = value { return s }
        return value.serialized
    }

    /// The JSON lines of an output file by `id` (its text, serialised), each copy.
    static func outputs(_ file: URL, id: String = "id") -> [String: [String]] {
        var found: [String: [String]] = [:]
        for v in (try? JSONValue.lines(ofFile: file.path)) ?? [] {
            guard let key = v[id] else { continue }
            found[Self.text(key), default: []].append(v.serialized)
        }
        return found
    }

    /// The messages of a topic by `id` (their text, serialised), each copy, once `expecting` distinct ones are there.
    static func topic(_ fixture: DaemonFixture, _ topic: String, id: String = "id", expecting: Int) async throws -> [String: [String]] {
        func byID(_ messages: [ConsumerMessage]) -> [String: [String]] {
            var found: [String: [String]] = [:]
            for m in messages {
                guard let v = try? JSONValue.parse(String(decoding: m.value, as: UTF8.self)), let key = v[id] else { continue }
                found[Self.text(key), default: []].append(v.serialized)
            }
            return found
        }
        return byID(try await readTopic(fixture, topic, timeout: .seconds(60)) { byID($0).count >= expecting })
    }
}
