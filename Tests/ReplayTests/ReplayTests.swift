import Events
import Foundation
import Replay
import Rules
import Testing

@Suite struct ReplayTests {
    @Test func replayingTwiceGivesByteIdenticalFiles() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(Array(EventGenerator(.init(events: 20_000, subjects: 300, seed: 7, months: 2))), to: input)
        let a = try Fixtures.replay([input], in: dir, name: "a", digests: true)
        let b = try Fixtures.replay([input], in: dir, name: "b", digests: true)
        #expect(!a.violations.isEmpty)
        #expect(!a.dead.isEmpty)
        #expect(a.violations == b.violations)
        #expect(a.dead == b.dead)
        let subjectsA = try String(contentsOf: dir.appendingPathComponent("a-digests/2026-01/subjects.jsonl"), encoding: .utf8)
        let subjectsB = try String(contentsOf: dir.appendingPathComponent("b-digests/2026-01/subjects.jsonl"), encoding: .utf8)
        #expect(!subjectsA.isEmpty)
        #expect(subjectsA == subjectsB)
    }

    @Test func shufflingWithinLatenessGivesTheSameViolations() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = Array(EventGenerator(.init(events: 30_000, subjects: 200, seed: 11, months: 1, invalidRate: 0,
                                               duplicateRate: 0, disorder: .zero)))
        let ordered = dir.appendingPathComponent("ordered.jsonl")
        try Fixtures.write(lines, to: ordered)
        // Each event moves later by less than the lateness (5m): every event seen before it is then at most that
        // much later than it, so none becomes late.
        var rng = SplitMix64(seed: 99)
        let shuffledLines = lines.map { line -> (Int64, String) in
            let time = try! JSONValue.parse(line)["time"]!
            guard case .string(let t) = time else { return (0, line) }
            return (Timestamp(rfc3339: t)!.microseconds + Int64(rng.next() % 270_000_000), line)
        }.sorted { $0.0 < $1.0 }.map(\.1)
        let moved = zip(shuffledLines, lines).filter { $0 != $1 }.count
        #expect(moved > 1_000)
        let shuffled = dir.appendingPathComponent("shuffled.jsonl")
        try Fixtures.write(shuffledLines, to: shuffled)
        let a = try Fixtures.replay([ordered], in: dir, name: "a")
        let b = try Fixtures.replay([shuffled], in: dir, name: "b")
        let idsA = Set(a.violations.split(separator: "\n").map(String.init))
        let idsB = Set(b.violations.split(separator: "\n").map(String.init))
        #expect(idsA.count > 100)
        #expect(idsA == idsB)
    }

    @Test func gzipInputAndSeveralFiles() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = Array(EventGenerator(.init(events: 4_000, subjects: 100, seed: 5)))
        let plain = dir.appendingPathComponent("all.jsonl")
        try Fixtures.write(lines, to: plain)
        let first = dir.appendingPathComponent("first.jsonl")
        let second = dir.appendingPathComponent("second.jsonl")
        try Fixtures.write(Array(lines[..<2_000]), to: first)
        try Fixtures.write(Array(lines[2_000...]), to: second)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", second.path]
        try gzip.run()
        gzip.waitUntilExit()
        #expect(gzip.terminationStatus == 0)
        let whole = try Fixtures.replay([plain], in: dir, name: "whole")
        let split = try Fixtures.replay([first, URL(fileURLWithPath: second.path + ".gz")], in: dir, name: "split")
        #expect(!whole.violations.isEmpty)
        #expect(whole.violations == split.violations)
        #expect(whole.dead.split(separator: "\n").count == split.dead.split(separator: "\n").count)
    }

    @Test func invalidLinesBecomeDeadLettersWithOrigin() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write([
            #"{"id":"a","type":"collect","time":"2026-01-01T00:00:00Z","subject":"s","categories":["user.name"]}"#,
            "not json",
            #"{"id":"b","type":"teleport","time":"2026-01-01T00:00:00Z","subject":"s"}"#,
            "",
            #"{"id":"c","type":"collect","time":"2026-01-01T00:00:00Z","subject":"s","categories":["user.nope"]}"#,
        ], to: input)
        let out = try Fixtures.replay([input], in: dir)
        let dead = try out.dead.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(dead.count == 3)
        #expect(dead.map { $0["reason"] } == [.string("invalid_json"), .string("unknown_type"), .string("unknown_category")])
        #expect(dead[0]["origin"] == .object([("file", .string(input.path)), ("line", .int(2))]))
        #expect(dead[0]["raw"] == .string("not json"))
        #expect(dead[2]["origin"]?["line"] == .int(5))
    }
}

@Suite struct PipelineCaseTests {
    @Test func theDefaultPipelinePassesItsOwnCases() throws {
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let cases = RuleCase.cases(in: Fixtures.defaultPipeline + "/tests")
        #expect(cases.count >= 5)
        for c in cases {
            let outcome = c.run(pipeline: pipeline)
            #expect(outcome.passed, "\(c.name): \(outcome.failures)")
        }
    }

    @Test func aWrongExpectationFailsWithAReadableDifference() {
        let expected: [JSONValue] = [.object([("rule", "a"), ("event", "e1")]), .object([("rule", "a"), ("event", "e2")])]
        let actual: [JSONValue] = [.object([("rule", "a"), ("event", "e1"), ("subject", "s")]), .object([("rule", "b"), ("event", "e3")])]
        let failures = RuleCase.compare(expected: expected, actual: actual, what: "violation")
        #expect(failures == [
            #"missing violation: {"rule":"a","event":"e2"}"#,
            #"unexpected violation: {"rule":"b","event":"e3"}"#,
        ])
    }
}
