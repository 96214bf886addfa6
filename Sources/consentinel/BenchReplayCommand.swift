import ArgumentParser
import Events
import Foundation
import Replay
import Rules

/// `consentinel bench replay`: replay throughput with a pipeline beside the cost of merely reading and decoding the
/// same file, measured in the same run.
struct BenchReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay events/s with a pipeline beside read-and-decode events/s on the same generated file.")

    @Option(name: .long, help: "Events in the generated file.") var events: Int = 1_000_000
    @Option(name: .long, help: "Customers in the generated file.") var subjects: Int = 50_000
    @Option(name: .long, help: "The pipeline folder.") var pipeline: String = "pipelines/default"
    @Option(name: .long, help: "Use this file instead of generating one.") var input: String?

    func run() async throws {
        let loaded = try PipelineLoader().load(directory: pipeline)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path: String
        if let input {
            path = input
        } else {
            path = dir.appendingPathComponent("events.jsonl").path
            try writeGeneratedTraffic(.init(events: events, subjects: subjects, seed: 42, months: 3), to: path)
        }
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        print("file: \(path == input ? path : "generated") \(size / 1_048_576) MiB")

        // Baseline: read and decode every line, nothing else.
        let decoder = EventDecoder(taxonomy: loaded.taxonomy)
        var decoded = 0, invalid = 0
        let decodeTime = try measure {
            let reader = try LineReader(path: path)
            try reader.forEachLine { bytes, _ in
                if bytes.isEmpty { return }
                switch decoder.decode(bytes) {
                case .success: decoded += 1
                case .failure: invalid += 1
                }
            }
        }
        var options = ReplayJob.Options(
            inputs: [path], violations: dir.appendingPathComponent("violations.jsonl").path,
            deadLetters: dir.appendingPathComponent("dead.jsonl").path, digests: dir.appendingPathComponent("digests").path)
        // As `replay` does: the command exits after it.
        options.leavesStateForExit = true
        let job = ReplayJob(pipeline: loaded, options: options)
        var summary = ReplayJob.Summary()
        let replayTime = try measure { summary = try job.run() }
        let lines = Double(decoded + invalid)
        let decodeRate = lines / decodeTime
        let replayRate = lines / replayTime
        print(String(format: "read+decode: %9.0f lines/s  (%d lines, %.2f s)", decodeRate, decoded + invalid, decodeTime))
        print(String(format: "replay:      %9.0f lines/s  (%d lines, %.2f s, %d violations, %d rules)", replayRate,
                     decoded + invalid, replayTime, summary.violations.values.reduce(0, +), loaded.rules.count))
        print(String(format: "replay / read+decode time: %.2fx", replayTime / decodeTime))
    }

    private func measure(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
