import Events
import Foundation
import Rules

/// A pipeline's own test case: given these events, expect exactly these violations.
///
/// A case is a folder with `events.jsonl` and `expected.jsonl`, and optionally `until` (an RFC 3339 time for the
/// final watermark) and `expected_dead_letters.jsonl`. Each expected line lists the fields to compare; fields it
/// leaves out are not compared, and objects (such as `evidence`) compare the keys they list.
public struct RuleCase: Sendable {
    public var name: String
    public var directory: String

    public init(name: String, directory: String) {
        self.name = name
        self.directory = directory
    }

    public struct Outcome: Sendable {
        public var name: String
        public var failures: [String]
        public var passed: Bool { failures.isEmpty }
        public var actual: [JSONValue]
    }

    /// The cases under `DIR/tests/`, by name.
    public static func cases(in directory: String) -> [RuleCase] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { name in
            let dir = (directory as NSString).appendingPathComponent(name)
            let events = (dir as NSString).appendingPathComponent("events.jsonl")
            return FileManager.default.fileExists(atPath: events) ? RuleCase(name: name, directory: dir) : nil
        }
    }

    public func run(pipeline: Pipeline) -> Outcome {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-case-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let violationsPath = tmp.appendingPathComponent("violations.jsonl").path
        let deadPath = tmp.appendingPathComponent("dead.jsonl").path
        var until: Timestamp?
        if let text = try? String(contentsOfFile: path("until"), encoding: .utf8) {
            guard let t = Timestamp(rfc3339: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                return Outcome(name: name, failures: ["the until file does not hold an RFC 3339 time"], actual: [])
            }
            until = t
        }
        let job = ReplayJob(pipeline: pipeline, options: .init(
            inputs: [path("events.jsonl")], until: until, violations: violationsPath, deadLetters: deadPath))
        do {
            _ = try job.run()
            let actual = try JSONValue.lines(ofFile: violationsPath)
            let expected = try JSONValue.lines(ofFile: path("expected.jsonl"))
            var failures = RuleCase.compare(expected: expected, actual: actual, what: "violation")
            // No expected_dead_letters.jsonl means no dead letter.
            let expectedDead = FileManager.default.fileExists(atPath: path("expected_dead_letters.jsonl"))
                ? try JSONValue.lines(ofFile: path("expected_dead_letters.jsonl")) : []
            failures += RuleCase.compare(expected: expectedDead, actual: try JSONValue.lines(ofFile: deadPath), what: "dead letter")
            return Outcome(name: name, failures: failures, actual: actual)
        } catch {
            return Outcome(name: name, failures: ["\(error)"], actual: [])
        }
    }

    private func path(_ file: String) -> String { (directory as NSString).appendingPathComponent(file) }

    /// Matches each expected object to one actual object that agrees on every field it lists.
    public static func compare(expected: [JSONValue], actual: [JSONValue], what: String) -> [String] {
        var unmatched = Array(actual.indices)
        var failures: [String] = []
        for e in expected {
            if let i = unmatched.firstIndex(where: { JSONValue.contains(actual[$0], e) }) {
                unmatched.remove(at: i)
            } else {
                failures.append("missing \(what): \(e.serialized)")
            }
        }
        for i in unmatched {
            failures.append("unexpected \(what): \(brief(actual[i]))")
        }
        return failures
    }

    private static func brief(_ v: JSONValue) -> String {
        guard case .object(let pairs) = v else { return v.serialized }
        let keep: Set<String> = ["rule", "reason", "time", "subject", "actor", "event", "origin"]
        return JSONValue.object(pairs.filter { keep.contains($0.0) }).serialized
    }
}

extension JSONValue {
    /// True when `whole` has every field of `part` with an equal value (objects compare recursively).
    public static func contains(_ whole: JSONValue, _ part: JSONValue) -> Bool {
        switch (whole, part) {
        case let (.object(w), .object(p)):
            return p.allSatisfy { key, value in
                guard let have = w.last(where: { $0.0 == key })?.1 else { return false }
                return contains(have, value)
            }
        case let (.int(a), .double(b)): return Double(a) == b
        case let (.double(a), .int(b)): return a == Double(b)
        default:
            return whole == part
        }
    }
}
