import ArgumentParser
import Events
import Daemon
import Foundation
import Replay
import Rules
import Simulation

/// `consentinel bench memory`: many events over many customers through replay and through the daemon, with the
/// peak resident memory and the rate of each.
struct BenchMemory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak RSS and events/s of replay and of the daemon over many events and customers.")

    @Option(help: "Events.") var events = 10_000_000
    @Option(help: "Customers.") var subjects = 1_000_000
    @Option(help: "Months the events span.") var months = 12
    @Option(help: "The pipeline folder.") var pipeline = "pipelines/default"
    @Option(help: "Partitions of the daemon's topic (default: one per 2.5 MB of traffic, as the embedded broker keeps about 5 MB per partition).")
    var partitions: Int?
    @Flag(help: "Measure replay only.") var replayOnly = false

    func run() async throws {
        let loaded = try PipelineLoader().load(directory: pipeline)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("events.jsonl").path
        try writeGeneratedTraffic(.init(events: events, subjects: subjects, seed: 42, months: months), to: path)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        print("file: \(events) events over \(subjects) customers and \(months) months, \(size / 1_048_576) MiB")

        let before = ProcessStats.residentBytes()
        ProcessStats.resetPeak()
        let job = ReplayJob(pipeline: loaded, options: .init(
            inputs: [path], violations: dir.appendingPathComponent("violations.jsonl").path,
            deadLetters: dir.appendingPathComponent("dead.jsonl").path, digests: dir.appendingPathComponent("digests").path))
        let started = ContinuousClock.now
        let summary = try job.run()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "replay: %.0f events/s (%.1f s), peak RSS %.0f MiB (%.0f MiB before it started)",
                     Double(summary.lines) / seconds, seconds, Double(ProcessStats.peakResidentBytes()) / 1_048_576,
                     Double(before) / 1_048_576))
        guard !replayOnly else { return }
        try FileManager.default.removeItem(atPath: path)
        let bench = KafkaBenchmark(
            options: .init(events: events, subjects: subjects, partitions: partitions ?? max(16, size / 2_500_000 + 1), pipelineDirectory: pipeline,
                           rate: 0, latencySeconds: 1, raw: false, months: months),
            output: { print($0) })
        try await bench.run()
    }
}
