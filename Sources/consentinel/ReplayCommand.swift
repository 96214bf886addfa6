import ArgumentParser
import Daemon
import Events
import Foundation
import Rules

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay JSONL event files (.gz too) through a pipeline; write violations, dead letters and digests.")

    @Option(name: .long, help: "The pipeline folder.")
    var pipeline: String

    @Option(name: .long, parsing: .upToNextOption, help: "Event files, JSONL or gzip-compressed JSONL.")
    var input: [String]

    @Option(name: .long, help: "Advance the watermark to this RFC 3339 time at the end; later events are skipped.")
    var until: String?

    @Option(name: .long, help: "Where to write violations (JSONL).")
    var violations: String

    @Option(name: .long, help: "Folder for monthly digests (YYYY-MM/subjects.jsonl and org.json).")
    var digests: String?

    @Option(name: .customLong("dead-letters"), help: "Where to write invalid events (JSONL).")
    var deadLetters: String?

    @Flag(name: .long, help: "Print no summary.")
    var quiet = false

    func validate() throws {
        if input.isEmpty { throw ValidationError("give at least one --input file") }
        if let until, Timestamp(rfc3339: until) == nil {
            throw ValidationError("--until must be an RFC 3339 time such as 2026-02-01T00:00:00Z, not '\(until)'")
        }
        for path in input where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("cannot read input file \(path)")
        }
    }

    func run() async throws {
        let loaded: Pipeline
        do {
            loaded = try PipelineLoader().load(directory: pipeline)
        } catch {
            printError("consentinel: the pipeline in \(pipeline) has errors:\n\(error)")
            throw ExitCode(2)
        }
        let job = ReplayJob(pipeline: loaded, options: .init(
            inputs: input, until: until.flatMap { Timestamp(rfc3339: $0) }, violations: violations,
            deadLetters: deadLetters, digests: digests))
        let started = ContinuousClock.now
        let summary: ReplayJob.Summary
        do {
            summary = try job.run()
        } catch {
            printError("consentinel: \(error)")
            throw ExitCode(1)
        }
        if !quiet { printSummary(summary, elapsed: ContinuousClock.now - started) }
    }

    private func printSummary(_ s: ReplayJob.Summary, elapsed: Swift.Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var out = "replayed \(s.lines) lines in \(String(format: "%.2f", seconds))s: \(s.events) events, "
            + "\(s.duplicates) duplicates, \(s.late) late, \(s.deadLetters.values.reduce(0, +)) dead letters"
        if s.afterUntil > 0 { out += ", \(s.afterUntil) after --until (skipped)" }
        out += "\n"
        for (reason, n) in s.deadLetters.sorted(by: { $0.key < $1.key }) { out += "  dead letter \(reason): \(n)\n" }
        out += "violations: \(s.violations.values.reduce(0, +))\n"
        for (rule, n) in s.violations.sorted(by: { $0.key < $1.key }) { out += "  \(rule): \(n)\n" }
        if !s.months.isEmpty { out += "digests: \(s.months.joined(separator: ", "))\n" }
        printError(out, terminator: "")
    }
}

func printError(_ text: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((text + terminator).utf8))
}
