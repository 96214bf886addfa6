import ArgumentParser
import Foundation
import Simulation

/// `consentinel bench soak`: the daemon at a steady rate for a long time, sampled every interval.
struct BenchSoak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run the daemon against the embedded cluster at a steady rate and sample its RSS, threads, open "
            + "files, outbox depth and lag every interval; exits non-zero if the daemon dies.")

    @Option(help: "How long to offer traffic, such as 1h or 20m, or a number of seconds.")
    var duration = DurationArgument(seconds: 3600)
    @Option(help: "Messages per second offered.") var rate = 500
    @Option(help: "The sampling interval, such as 1m or 5s.") var sample = DurationArgument(seconds: 60)
    @Option(help: "Customers in the generated traffic.") var subjects = 10_000
    @Option(help: "Partitions of the event topic (the embedded broker keeps about 5 MB of each).") var partitions = 16
    @Option(help: "Months of event time the traffic spans (default: 3 per hour of soak, at least 1).") var months: Int?
    @Option(help: "The state store: sqlite (a file in the work folder) or the postgres:// URL of an empty database.")
    var store = "sqlite"
    @Option(help: "The pipeline folder whose rules, lists and texts the daemon runs.") var pipeline = "pipelines/default"
    @Option(help: "The CSV of the samples (the daemon's log is copied beside it).") var output: String?
    @Option(help: "When the RSS counts as warm (default: after the first month of event time, at least 5m, at most half the run).")
    var warmUp: DurationArgument?
    @Flag(help: "Keep the work folder (pipeline, state, sinks, log).") var keep = false

    func validate() throws {
        guard duration.seconds > 0, sample.seconds > 0 else { throw ValidationError("--duration and --sample must be positive") }
        guard rate > 0, subjects > 0 else { throw ValidationError("--rate and --subjects must be positive") }
        guard (1...256).contains(partitions) else { throw ValidationError("--partitions must be 1…256") }
        guard store == "sqlite" || store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") else {
            throw ValidationError("--store must be sqlite or a postgres:// URL")
        }
    }

    func run() async throws {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let soak = Soak(
            options: .init(
                duration: duration.swiftDuration, rate: rate, sample: sample.swiftDuration, subjects: subjects,
                partitions: partitions, months: months ?? max(1, Int((duration.seconds / 3600 * 3).rounded())),
                store: store, pipelineDirectory: pipeline, csv: output ?? "/tmp/consentinel-soak-\(stamp).csv", keep: keep,
                warmUp: warmUp?.seconds),
            // Unbuffered, also into a file: a long soak is watched with tail -f.
            output: { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) })
        let report = try await soak.run()
        if report.failure != nil { throw ExitCode(1) }
    }
}
