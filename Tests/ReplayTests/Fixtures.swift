import Events
import Foundation
import Replay
import Rules
import Testing

/// What the test targets that run replays and daemons share. (DaemonTests holds this file; ReplayTests links to it.)
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let defaultPipeline = root.appendingPathComponent("pipelines/default").path

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A digest case folder (`events.jsonl`, optional `until`) replayed through the default pipeline into `out`;
    /// returns the digests folder.
    static func replayCase(_ dir: URL, into out: URL) throws -> URL {
        let until = (try? String(contentsOf: dir.appendingPathComponent("until"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let digests = out.appendingPathComponent("digests")
        _ = try ReplayJob(pipeline: try PipelineLoader().load(directory: defaultPipeline), options: .init(
            inputs: [dir.appendingPathComponent("events.jsonl").path], until: until.flatMap { Timestamp(rfc3339: $0) },
            violations: out.appendingPathComponent("v.jsonl").path, digests: digests.path)).run()
        return digests
    }

    static func write(_ lines: [String], to url: URL) throws {
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    static func replay(_ input: [URL], in dir: URL, name: String = "out", until: String? = nil, digests: Bool = false) throws -> (violations: String, dead: String) {
        let pipeline = try PipelineLoader().load(directory: defaultPipeline)
        let v = dir.appendingPathComponent("\(name)-violations.jsonl")
        let d = dir.appendingPathComponent("\(name)-dead.jsonl")
        let job = ReplayJob(pipeline: pipeline, options: .init(
            inputs: input.map(\.path), until: until.flatMap { Timestamp(rfc3339: $0) }, violations: v.path,
            deadLetters: d.path, digests: digests ? dir.appendingPathComponent("\(name)-digests").path : nil))
        _ = try job.run()
        return (try String(contentsOf: v, encoding: .utf8), try String(contentsOf: d, encoding: .utf8))
    }
}

/// Polls `condition` every 200 ms until it holds; throws after `timeout`.
func waitUntil(_ what: String, timeout: Swift.Duration, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw TestTimeout(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(200))
    }
}

struct TestTimeout: Error, CustomStringConvertible { let description: String }
