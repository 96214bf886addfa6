import Alerts
import ArgumentParser
import Events
import Foundation
import Kafka
import Replay
import Rules

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay JSONL event files (.gz too), or a time range of Kafka topics, through a pipeline; write "
            + "violations, dead letters and digests. With --compare, show what another pipeline would find instead.")

    @Option(name: .long, help: "The pipeline folder.")
    var pipeline: String

    @Option(name: .long, parsing: .upToNextOption, help: "Event files, JSONL or gzip-compressed JSONL.")
    var input: [String] = []

    @Option(name: .customLong("from-kafka"), help: ArgumentHelp(
        "Replay from Kafka instead of files: the bootstrap servers (host:port,…).", valueName: "bootstrap"))
    var fromKafka: String?

    @Option(name: .long, help: "With --from-kafka: the topics, comma-separated.")
    var topics: String?

    @Option(name: .long, help: "With --from-kafka: start at the first message with a timestamp at or after this RFC 3339 time.")
    var since: String?

    @Option(name: .long, help: "Advance the watermark to this RFC 3339 time at the end; later events are skipped (with --from-kafka, reading stops at the first message after it).")
    var until: String?

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp(
        "With --from-kafka: librdkafka properties (TLS, SASL, …).", valueName: "key=value"))
    var properties: [String] = []

    @Option(name: .long, help: "Where to write violations (JSONL; - for standard output).")
    var violations: String

    @Option(name: .long, help: "Folder for monthly digests (YYYY-MM/subjects.jsonl and org.json).")
    var digests: String?

    @Option(name: .customLong("dead-letters"), help: "Where to write invalid events (JSONL; - for standard output).")
    var deadLetters: String?

    @Option(name: .long, help: ArgumentHelp(
        "What-if: run this pipeline too, over the same events, and report per rule the violations only in the old "
            + "(--pipeline), only in the new (this one), and in both.", valueName: "other-pipeline"))
    var compare: String?

    @Option(name: .customLong("compare-report"), help: "With --compare: also write the comparison as JSON here (- for standard output).")
    var compareReport: String?

    @Option(name: .long, help: "With --compare: sample violations shown per rule and column.")
    var samples: Int = 3

    @Flag(name: .long, help: "Deliver alerts through the pipeline's alert routes (a replay pages no one without it).")
    var alerts = false

    @Flag(name: .long, help: "No progress display and no summary.")
    var quiet = false

    @Option(name: .customLong("progress-interval"), help: .hidden)
    var progressInterval: Double = 2

    func validate() throws {
        if input.isEmpty == (fromKafka == nil) {
            throw ValidationError("give --input files or --from-kafka BOOTSTRAP (one of them)")
        }
        if let until, Timestamp(rfc3339: until) == nil {
            throw ValidationError("--until must be an RFC 3339 time such as 2026-02-01T00:00:00Z, not '\(until)'")
        }
        if let since, Timestamp(rfc3339: since) == nil {
            throw ValidationError("--since must be an RFC 3339 time such as 2026-01-01T00:00:00Z, not '\(since)'")
        }
        if fromKafka == nil {
            if since != nil || topics != nil || !properties.isEmpty {
                throw ValidationError("--since, --topics and --properties go with --from-kafka")
            }
        } else if topicList.isEmpty {
            throw ValidationError("--from-kafka needs --topics T1,T2")
        }
        for p in properties where !p.contains("=") {
            throw ValidationError("--properties takes key=value, not '\(p)'")
        }
        if compareReport != nil && compare == nil { throw ValidationError("--compare-report goes with --compare") }
        if [violations, deadLetters, compareReport].filter({ $0 == "-" }).count > 1 {
            throw ValidationError("only one output can go to standard output (-)")
        }
        if digests == "-" { throw ValidationError("--digests names a folder; it cannot be standard output (-)") }
        for path in input where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("cannot read input file \(path)")
        }
    }

    private var topicList: [String] {
        (topics ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private func load(_ directory: String) throws -> Pipeline {
        do {
            return try PipelineLoader().load(directory: directory)
        } catch {
            printError("consentinel: the pipeline in \(directory) has errors:\n\(error)")
            throw ExitCode(2)
        }
    }

    func run() async throws {
        let loaded = try load(pipeline)
        let other = try compare.map { try load($0) }
        let untilTime = until.flatMap { Timestamp(rfc3339: $0) }
        let alertSettings: AlertSettings?
        do {
            alertSettings = alerts ? try AlertSettings.load(pipeline: loaded) : nil
        } catch {
            printError("consentinel: \(error)")
            throw ExitCode(2)
        }
        for (name, _, channel) in alertSettings?.destinations ?? [] {
            if case .kafka = channel.kind {
                printError("consentinel: alert channel \(name) sends to Kafka, which replay --alerts cannot do")
                throw ExitCode(64)
            }
        }
        var options = ReplayJob.Options(
            inputs: input, until: untilTime, violations: violations, deadLetters: deadLetters, digests: digests,
            compare: other, samples: samples, alerts: alertSettings)
        options.leavesStateForExit = true
        let job = ReplayJob(pipeline: loaded, options: options)
        let display = ProgressDisplay(mode: ProgressDisplay.mode(quiet: quiet), interval: .milliseconds(Int64(progressInterval * 1000)))
        job.progress = { display.update($0) }
        let started = ContinuousClock.now
        let summary: ReplayJob.Summary
        do {
            if let fromKafka {
                let range = KafkaTimeRange(
                    bootstrapServers: fromKafka, topics: topicList, since: since.flatMap { Timestamp(rfc3339: $0) },
                    until: untilTime, properties: KafkaOptions.properties(properties), logHandler: KafkaOptions.logErrors)
                summary = try await job.run(kafka: range)
            } else {
                summary = try job.run()
            }
        } catch {
            printError("consentinel: \(error)")
            throw ExitCode(error.code == .arguments ? 64 : 1)
        }
        let elapsed = ContinuousClock.now - started
        if !quiet { printError(summaryTable(summary, pipeline: loaded, elapsed: elapsed), terminator: "") }
        if let alertSettings { try await deliverAlerts(summary, alertSettings) }
        if let comparison = summary.comparison {
            // When standard output carries data (`-`), the table goes to standard error.
            if [violations, deadLetters, compareReport].contains("-") {
                printError(comparison.table, terminator: "")
            } else {
                print(comparison.table, terminator: "")
            }
            if compareReport == "-" {
                print(comparison.json.pretty())
            } else if let compareReport {
                do {
                    try Data((comparison.json.pretty() + "\n").utf8).write(to: URL(fileURLWithPath: compareReport))
                } catch {
                    printError("consentinel: cannot write \(compareReport): \(error.localizedDescription)")
                    throw ExitCode(1)
                }
            }
        }
    }

    /// `--alerts`: the collected alerts through the routes' channels; exit 1 when some could not be delivered.
    private func deliverAlerts(_ summary: ReplayJob.Summary, _ settings: AlertSettings) async throws {
        let report: ReplayAlerts.Report
        do {
            report = try await ReplayAlerts.deliver(summary.alerts, settings: settings)
        } catch {
            printError("consentinel: \(error)")
            throw ExitCode(error.code == .arguments ? 64 : 1)
        }
        if !quiet {
            let rows = report.alerts.keys.sorted().map { name in
                [name, Format.count(report.alerts[name] ?? 0), Format.count(report.messages[name] ?? 0),
                 Format.count(report.failed[name] ?? 0)]
            }
            printError("alerts\n" + TextTable(header: ["destination", "alerts", "messages", "failed"], rows: rows,
                                              rightAligned: [1, 2, 3]).text, terminator: "")
        }
        let failed = report.failed.values.reduce(0, +)
        if failed > 0 {
            printError("consentinel: \(failed) alert\(failed == 1 ? "" : "s") could not be delivered")
            throw ExitCode(1)
        }
    }

    private func summaryTable(_ s: ReplayJob.Summary, pipeline: Pipeline, elapsed: Swift.Duration) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var rows: [[String]] = []
        let source = fromKafka.map { "Kafka \($0) \(topicList.joined(separator: ","))" }
            ?? "\(input.count) file\(input.count == 1 ? "" : "s"), \(Format.bytes(s.inputBytes))"
        rows.append(["input", source])
        rows.append([fromKafka == nil ? "lines" : "messages", Format.count(s.lines)])
        rows.append(["events", Format.count(s.events)])
        rows.append(["duplicates", Format.count(s.duplicates)])
        rows.append(["late", Format.count(s.late)])
        if s.afterUntil > 0 { rows.append(["after --until", "\(Format.count(s.afterUntil)) (skipped)"]) }
        rows.append(["dead letters", Format.count(s.deadLetters.values.reduce(0, +))])
        for (reason, n) in s.deadLetters.sorted(by: { $0.key < $1.key }) { rows.append(["  \(reason)", Format.count(n)]) }
        rows.append(["violations", Format.count(s.violations.values.reduce(0, +))])
        rows.append(["digests written", s.months.isEmpty ? "none" : s.months.joined(separator: ", ")])
        rows.append(["elapsed", String(format: "%.2f s", seconds)])
        rows.append(["events/s", Format.count(Int(Double(s.events) / max(seconds, 0.001)))])
        var out = "replay summary\n" + TextTable(header: nil, rows: rows).text
        let severities = Dictionary(pipeline.rules.map { ($0.id, $0.severity) }, uniquingKeysWith: { a, _ in a })
        let byRule = s.violations.sorted { a, b in
            let (sa, sb) = (severities[a.key], severities[b.key])
            if sa != sb, let sa, let sb { return sa > sb }
            return a.key < b.key
        }
        if !byRule.isEmpty {
            out += "violations by rule\n"
            out += TextTable(header: ["rule", "severity", "count"],
                             rows: byRule.map { [$0.key, severities[$0.key]?.name ?? "", Format.count($0.value)] },
                             rightAligned: [2]).text
        }
        return out
    }
}

/// What the Kafka-facing commands share: `--properties key=value` and librdkafka's errors on standard error.
enum KafkaOptions {
    static func properties(_ pairs: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1)
            result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return result
    }

    static let logErrors: KafkaLogHandler = { record in
        if record.level <= 3 { printError("kafka: \(record.facility): \(record.message)") }
    }
}

func printError(_ text: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((text + terminator).utf8))
}

/// A rendered page or document to `--output` (nil or `-`: standard output); exit 1 when the file cannot be written.
func writeOutput(_ text: String, to output: String?) throws {
    guard let output, output != "-" else { return FileHandle.standardOutput.write(Data(text.utf8)) }
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: output))
    } catch {
        printError("consentinel: cannot write \(output): \(error.localizedDescription)")
        throw ExitCode(1)
    }
}
