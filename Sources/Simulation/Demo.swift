import Digests
import Events
import Foundation
import Daemon
import Kafka
import Logging
import Processing
import Rules
import Synchronization

/// `consentinel demo`: an embedded Kafka (librdkafka's mock cluster), generated traffic for one month, and the real
/// daemon (the same services as `run`, SQLite state in a temporary folder), with violations shown as they are found.
/// At the end an event after the month's end moves the watermark past it: the daemon closes the month and writes
/// its digests, and customer pages are rendered from them.
public struct Demo {
    public var pipelineDirectory: String
    public var duration: Swift.Duration
    public var events: Int
    public var colour: Bool
    public var output: @Sendable (String) -> Void

    public init(pipelineDirectory: String, duration: Swift.Duration, events: Int, colour: Bool, output: @escaping @Sendable (String) -> Void) {
        self.pipelineDirectory = pipelineDirectory
        self.duration = duration
        self.events = events
        self.colour = colour
        self.output = output
    }

    static let month = Timestamp(rfc3339: "2026-01-01T00:00:00Z")!

    public func run() async throws {
        let source = try PipelineLoader().load(directory: pipelineDirectory)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-demo-\(UUID().uuidString.prefix(8))")
        let pipelineDir = work.appendingPathComponent("pipeline")
        try FileManager.default.createDirectory(at: pipelineDir, withIntermediateDirectories: true)
        for folder in ["rules", "lists"] {
            try FileManager.default.copyItem(atPath: pipelineDirectory + "/" + folder, toPath: pipelineDir.appendingPathComponent(folder).path)
        }
        let cluster = try MockCluster(brokers: 3)
        try cluster.createTopic("privacy.events", partitions: 4)
        try cluster.createTopic("privacy.violations", partitions: 1)
        try cluster.createTopic("privacy.dead-letters", partitions: 1)
        try """
        name: \(source.name)
        lateness: 5m
        sources:
          kafka:
            bootstrap_servers: \(cluster.bootstrapServers)
            group: consentinel-demo
            topics: [privacy.events]
            idle_timeout: 10m
            properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "500" }
        state: { url: state.sqlite }
        sinks:
          violations: { topic: privacy.violations, file: out/violations.jsonl }
          dead_letters: { topic: privacy.dead-letters, file: out/dead-letters.jsonl }
          digests: { file: out/digests }
        http: { host: 127.0.0.1, port: "0" }
        """.write(to: pipelineDir.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)

        output(bold("Consentinel demo") + ": an embedded Kafka at \(cluster.bootstrapServers), one month of traffic in "
               + "\(duration.components.seconds) s, the default rules, state in \(work.path)")
        let port = Mutex(0)
        var logger = Logger(label: "consentinel")
        logger.logLevel = .error
        let quietLogger = logger
        let stopper = DaemonApp.Stopper()
        let daemon = Task {
            try await DaemonApp.run(directory: pipelineDir.path, environment: [:], logger: quietLogger,
                                    onHTTPBound: { p in port.withLock { $0 = p } }, stopper: stopper)
        }
        let started = ContinuousClock.now
        while port.withLock({ $0 }) == 0, ContinuousClock.now - started < .seconds(30) { try await Task.sleep(for: .milliseconds(100)) }
        output("metrics at http://127.0.0.1:\(port.withLock { $0 })/metrics, health at /healthz and /readyz")

        // One bulk export in the middle of the month, over customers of every partition, within one 10-minute window.
        let lines = Array(EventGenerator(.init(events: events, subjects: Swift.max(300, events / 15), seed: 2026, start: Self.month,
                                               bulkExportEvery: events, bulkExportWindow: .minutes(10), profile: .realistic)))
        let end = Self.month.startOfNextMonth + .minutes(10)
        let violationsFile = pipelineDir.appendingPathComponent("out/violations.jsonl")
        var shown = 0
        var byRule: [String: Int] = [:]
        func showNew() {
            guard let text = try? String(contentsOf: violationsFile, encoding: .utf8) else { return }
            let all = text.split(separator: "\n")
            for line in all.dropFirst(shown) {
                guard let v = try? JSONValue.parse(String(line)) else { continue }
                output(describe(v))
                if case .string(let rule)? = v["rule"] { byRule[rule, default: 0] += 1 }
            }
            shown = all.count
        }

        var producerConfig = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        producerConfig.messageTimeout = .seconds(30)
        let producer = try Producer(configuration: producerConfig)
        let sendTime = duration * 0.8
        let chunk = Swift.max(1, lines.count / 40)
        for (i, start) in stride(from: 0, to: lines.count, by: chunk).enumerated() {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for line in lines[start..<Swift.min(start + chunk, lines.count)] {
                    let key = (try? JSONValue.parse(line))?["subject"].flatMap { v -> [UInt8]? in
                        if case .string(let s) = v { return Array(s.utf8) } else { return nil }
                    }
                    group.addTask { _ = try await producer.send(topic: "privacy.events", key: key, value: Array(line.utf8)) }
                }
                try await group.waitForAll()
            }
            showNew()
            let due = started + sendTime * (Double(i + 1) / 40)
            if ContinuousClock.now < due { try await Task.sleep(until: due) }
        }
        // The month ends: an event on every partition just after it moves the watermark past the month's end.
        for p in Int32(0)..<4 {
            let tick = #"{"id":"demo-month-end-\#(p)","type":"collect","time":"\#(end.rfc3339)","subject":"demo-clock","categories":["user.device"]}"#
            _ = try await producer.send(topic: "privacy.events", key: nil, value: Array(tick.utf8), partition: p)
        }
        await producer.shutdown()
        let settle = ContinuousClock.now
        let digests = pipelineDir.appendingPathComponent("out/digests")
        let monthKey = Self.month.monthKey
        let orgFile = digests.appendingPathComponent("\(monthKey)/org.json")
        var last = -1
        while ContinuousClock.now < started + duration || ContinuousClock.now - settle < .seconds(2) {
            try await Task.sleep(for: .milliseconds(500))
            showNew()
            let closed = FileManager.default.fileExists(atPath: orgFile.path)
            if shown == last, closed, ContinuousClock.now - settle > .seconds(3) { break }
            if ContinuousClock.now - settle > .seconds(60) { break }
            last = shown
        }
        // As SIGTERM would: the last batch commits, outputs are published, the group is left.
        await stopper.stop()
        _ = try? await daemon.value
        // The cluster lives until the daemon has stopped (a release build may end a lifetime at its last use).
        withExtendedLifetime(cluster) {}

        // The daemon closed the month: its digests, and a page for a few customers.
        let archive = DigestArchive(directory: digests.path)
        let pages = work.appendingPathComponent("pages")
        try FileManager.default.createDirectory(at: pages, withIntermediateDirectories: true)
        let context = DigestContext(pipeline: source)
        var written: [String] = []
        for subject in ["cust-1", "cust-2", "cust-3"] {
            guard let digest = try? archive.subject(subject, month: monthKey) else { continue }
            for language in [Language.en, .es] {
                let path = pages.appendingPathComponent("\(subject)-\(language.rawValue).html")
                try DigestRenderer(language: language, context: context).subjectHTML(digest).write(to: path, atomically: true, encoding: .utf8)
                written.append(path.path)
            }
        }
        if let org = try? archive.org(month: monthKey) {
            let path = pages.appendingPathComponent("organisation-en.html")
            try DigestRenderer(language: .en, context: context).orgHTML(org).write(to: path, atomically: true, encoding: .utf8)
            written.append(path.path)
        }
        if let audit = try? archive.audit(month: monthKey) {
            let path = pages.appendingPathComponent("audit-en.html")
            try DigestRenderer(language: .en, context: context).auditHTML(audit).write(to: path, atomically: true, encoding: .utf8)
            written.append(path.path)
        }
        output("")
        output(bold("Summary") + ": \(lines.count) events sent, \(shown) violations found live")
        for (rule, n) in byRule.sorted(by: { $0.value > $1.value }) { output("  \(rule): \(n)") }
        output(bold("Month closed") + ": digests for \(archive.months().joined(separator: ", ")) in \(digests.path)")
        output("  \(digests.appendingPathComponent("\(monthKey)/subjects.jsonl").path)")
        output("  \(digests.appendingPathComponent("\(monthKey)/org.json").path)")
        output(bold("Pages") + " (customers, the organisation report, the privacy office's audit):")
        for path in written { output("  \(path)") }
        output("Violations as JSON lines: \(violationsFile.path)")
    }

    private func describe(_ v: JSONValue) -> String {
        func s(_ key: String) -> String { if case .string(let x)? = v[key] { return x }; return "" }
        let severity = s("severity")
        let tag = severity.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)
        let coloured: String
        if colour {
            let code = ["critical": "1;35", "high": "1;31", "medium": "33", "low": "36"][severity] ?? "0"
            coloured = "\u{1B}[\(code)m\(tag)\u{1B}[0m"
        } else {
            coloured = tag
        }
        return "\(s("time").prefix(16).replacingOccurrences(of: "T", with: " "))  \(coloured) \(s("rule")): \(s("message"))"
    }

    private func bold(_ text: String) -> String { colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
}
