import AsyncHTTPClient
import Daemon
import Events
import Foundation
import Kafka
import NIOCore
import Rules
import Synchronization

/// `consentinel bench soak`: the daemon, in its own process, against the embedded cluster at a steady offered rate
/// for a long time, sampled from outside every interval (its RSS, threads and open files from `/proc`, outbox depth,
/// lag and violations from `/metrics`), to see whether anything grows or falls behind.
///
/// The traffic is the generator's stress profile, spread evenly over `months` of event time for the whole run, so
/// event time advances with the wall clock and months close during the soak.
public struct Soak {
    public struct Options: Sendable {
        public var duration: Swift.Duration
        public var rate: Int
        public var sample: Swift.Duration
        public var subjects: Int
        public var partitions: Int
        public var months: Int
        /// `sqlite` (a file in the work folder) or a `postgres://` URL of an empty database.
        public var store: String
        public var pipelineDirectory: String
        public var csv: String
        public var keep: Bool
        /// Seconds before the RSS counts as warm; nil: `Soak.warmUp`'s rule.
        public var warmUp: Double?

        public init(
            duration: Swift.Duration, rate: Int, sample: Swift.Duration, subjects: Int, partitions: Int, months: Int,
            store: String, pipelineDirectory: String, csv: String, keep: Bool, warmUp: Double? = nil
        ) {
            self.warmUp = warmUp
            self.duration = duration
            self.rate = rate
            self.sample = sample
            self.subjects = subjects
            self.partitions = partitions
            self.months = months
            self.store = store
            self.pipelineDirectory = pipelineDirectory
            self.csv = csv
            self.keep = keep
        }
    }

    public struct Sample: Sendable {
        public var elapsed: Double
        public var produced: Int
        public var processed: Int
        public var residentBytes: Int
        public var threads: Int
        public var openFiles: Int
        public var outbox: Int?
        public var lag: Int?
        public var violations: Int
        public var published: Int
        public var paused: Bool
        public var stalled: Bool
        public var stateBytes: Int
        public var cpuSeconds: Double

        static let header = "elapsed_s,produced,processed,rss_mib,threads,open_fds,outbox_depth,lag,violations,published,paused,stalled,state_mib,cpu_s"

        var csv: String {
            [String(format: "%.0f", elapsed), "\(produced)", "\(processed)", mib(residentBytes), "\(threads)", "\(openFiles)",
             outbox.map(String.init) ?? "", lag.map(String.init) ?? "", "\(violations)", "\(published)", paused ? "1" : "0",
             stalled ? "1" : "0", mib(stateBytes), String(format: "%.1f", cpuSeconds)].joined(separator: ",")
        }

        var line: String {
            func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
            return pad(elapsedText(elapsed), 9) + "  produced " + pad("\(produced)", 9) + "  processed " + pad("\(processed)", 9)
                + "  RSS " + pad(mib(residentBytes), 7) + " MiB  threads " + pad("\(threads)", 3) + "  fds " + pad("\(openFiles)", 4)
                + "  outbox " + pad(outbox.map(String.init) ?? "-", 5) + "  lag " + pad(lag.map(String.init) ?? "-", 6)
                + "  violations " + pad("\(violations)", 8) + "  state " + pad(mib(stateBytes), 7) + " MiB  cpu "
                + pad(String(format: "%.1f", cpuSeconds), 7) + " s" + (paused ? "  PAUSED" : "") + (stalled ? "  STALLED" : "")
        }
    }

    public struct Report: Sendable {
        public var samples: [Sample]
        /// Why the soak failed outright (the daemon died, or never became ready); nil otherwise.
        public var failure: String?
        public var passed: Bool
    }

    public let options: Options
    public let output: @Sendable (String) -> Void

    public init(options: Options, output: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.output = output
    }

    static let eventTopic = "privacy.events"

    /// Where the RSS is first measured: once the first month of event time has closed (the open months' digests of
    /// every customer are full by then) or after 5 minutes, whichever is later, but at most half the run.
    var warmUp: Double {
        if let seconds = options.warmUp { return seconds }
        let run = KafkaBenchmark.seconds(options.duration)
        return min(max(300, run / Double(options.months) * 1.1), run / 2)
    }
    static let drainLimit = Swift.Duration.seconds(120)

    public func run() async throws -> Report {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-soak-\(UUID().uuidString.prefix(8))")
        defer { if !options.keep { try? FileManager.default.removeItem(at: work) } }
        let cluster = try MockCluster(brokers: 3)
        try cluster.createTopic(Self.eventTopic, partitions: options.partitions)
        try cluster.createTopic("privacy.violations", partitions: 1)
        try cluster.createTopic("privacy.dead-letters", partitions: 1)
        let port = try DaemonProcess.freePort()
        let pipeline = work.appendingPathComponent("pipeline")
        try writePipeline(at: pipeline, bootstrap: cluster.bootstrapServers, port: port)

        let csv = try CSVFile(path: options.csv)
        let total = Int(KafkaBenchmark.seconds(options.duration) * Double(options.rate))
        output("soak: \(elapsedText(KafkaBenchmark.seconds(options.duration))) at \(options.rate) msg/s (\(total) messages, stress "
               + "profile, \(options.subjects) customers, \(options.months) month(s) of event time), \(options.partitions) "
               + "partitions, sample every \(elapsedText(KafkaBenchmark.seconds(options.sample))); work folder \(work.path)")
        let daemon = try DaemonProcess(pipeline: pipeline, port: port)
        do {
            try await daemon.waitUntilReady(timeout: .seconds(60))
        } catch {
            await daemon.stop()
            return Report(samples: [], failure: "\(error)", passed: false)
        }
        let statePath = options.store == "sqlite" ? pipeline.appendingPathComponent("state.sqlite").path : nil

        let producer = SteadyProducer(bootstrap: cluster.bootstrapServers, rate: options.rate, total: total,
                                      generator: .init(events: total, subjects: options.subjects, seed: 7, months: options.months))
        let started = ContinuousClock.now
        let producing = Task { try await producer.run(topic: Self.eventTopic, from: started) }
        var samples: [Sample] = []
        var failure: String?
        func take() async {
            let sample = await self.sample(daemon, producer: producer, since: started, state: statePath)
            samples.append(sample)
            output(sample.line)
            csv.append(sample.csv)
        }

        var next = started
        while true {
            try? await Task.sleep(until: next)
            guard daemon.isRunning else {
                failure = "the daemon died after \(elapsedText(KafkaBenchmark.seconds(ContinuousClock.now - started))): \(daemon.tail())"
                break
            }
            await take()
            guard next < started + options.duration else { break }
            next = min(next + options.sample, started + options.duration)
        }
        let underLoad = samples.last
        if failure != nil { producer.stop() }
        var productionError: (any Error)?
        if case .failure(let error) = await producing.result { productionError = error }
        let stopped = ContinuousClock.now

        var drained: Double?
        if failure == nil {
            drained = try await drain(daemon, producer: producer, since: stopped)
            if daemon.isRunning { await take() } else { failure = "the daemon died while draining: \(daemon.tail())" }
        }
        let wasRunning = daemon.isRunning
        await daemon.stop()
        let exit = daemon.process.terminationStatus
        try? FileManager.default.removeItem(atPath: siblingPath(csv.path, "daemon.log"))
        try? FileManager.default.copyItem(at: daemon.log, to: URL(fileURLWithPath: siblingPath(csv.path, "daemon.log")))
        let logLines = ((try? String(contentsOf: daemon.log, encoding: .utf8)) ?? "").split(separator: "\n").count

        let passed = summarise(samples, underLoad: underLoad, drained: drained, failure: failure, productionError: productionError,
                               producer: producer, exit: wasRunning ? exit : nil, logLines: logLines, csv: csv.path)
        withExtendedLifetime(cluster) {}
        return Report(samples: samples, failure: failure, passed: passed)
    }

    // MARK: - Sampling

    private func sample(_ daemon: DaemonProcess, producer: SteadyProducer, since start: ContinuousClock.Instant, state: String?) async -> Sample {
        let pid = daemon.process.processIdentifier
        let metrics = await scrape(port: daemon.port)
        func total(_ name: String) -> Int? { metrics.map { Int(Self.sum(name, in: $0) ?? 0) } }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? 0
        let stateBytes = state.map { path in
            ["", "-wal", "-shm"].reduce(0) { sum, suffix in
                sum + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? 0)
            }
        } ?? 0
        return Sample(
            elapsed: KafkaBenchmark.seconds(ContinuousClock.now - start), produced: producer.sent,
            processed: total(DaemonMetrics.Name.messagesProcessed) ?? 0,
            residentBytes: Self.statusField("VmRSS:", in: status) * 1024, threads: Self.statusField("Threads:", in: status),
            openFiles: fds, outbox: metrics.flatMap { Self.sum(DaemonMetrics.Name.outboxDepth, in: $0) }.map { Int($0) },
            lag: metrics.flatMap { Self.sum(DaemonMetrics.Name.consumerLag, in: $0) }.map { Int($0) },
            violations: total(DaemonMetrics.Name.violations) ?? 0, published: total(DaemonMetrics.Name.published) ?? 0,
            paused: (total(DaemonMetrics.Name.paused) ?? 0) > 0, stalled: (total(DaemonMetrics.Name.stalled) ?? 0) > 0,
            stateBytes: stateBytes, cpuSeconds: daemon.cpuSeconds)
    }

    /// Waits until the daemon has processed every message produced and both its lag and its outbox are 0; returns
    /// how many seconds that took, or nil if it did not within `drainLimit`.
    private func drain(_ daemon: DaemonProcess, producer: SteadyProducer, since stopped: ContinuousClock.Instant) async throws -> Double? {
        while ContinuousClock.now - stopped < Self.drainLimit, daemon.isRunning {
            if let text = await scrape(port: daemon.port),
               Int(Self.sum(DaemonMetrics.Name.messagesProcessed, in: text) ?? 0) >= producer.sent,
               Self.sum(DaemonMetrics.Name.outboxDepth, in: text) == 0, Self.sum(DaemonMetrics.Name.consumerLag, in: text) == 0 {
                return KafkaBenchmark.seconds(ContinuousClock.now - stopped)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        return nil
    }

    private func scrape(port: Int) async -> String? {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)), response.status == .ok,
              let body = try? await response.body.collect(upTo: 16 << 20) else { return nil }
        return String(buffer: body)
    }

    /// The sum over every series of metric `name` (any labels) in Prometheus text, or nil when it has none.
    static func sum(_ name: String, in text: String) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let rest = line.dropFirst(name.count)
            guard rest.first == " " || rest.first == "{", let value = rest.split(separator: " ").last.flatMap({ Double($0) })
            else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    static func statusField(_ name: String, in status: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
    }

    // MARK: - Summary

    /// Prints the summary and the verdict; returns whether the soak passed.
    private func summarise(
        _ samples: [Sample], underLoad: Sample?, drained: Double?, failure: String?, productionError: (any Error)?, producer: SteadyProducer,
        exit: Int32?, logLines: Int, csv: String
    ) -> Bool {
        output("")
        guard let first = samples.first, let loaded = underLoad, let last = samples.last else {
            output("verdict: FAIL (\(failure ?? "no samples"))")
            return false
        }
        let warm = samples.first { $0.elapsed >= warmUp } ?? first
        let hours = max(loaded.elapsed - warm.elapsed, 1) / 3600
        let growth = Double(loaded.residentBytes - warm.residentBytes) / hours
        let growthShare = growth / Double(max(warm.residentBytes, 1))
        output(String(format: "duration %@, %d messages produced (%.1f msg/s achieved, %d offered), %d processed; %d delivery failures",
                      elapsedText(loaded.elapsed), producer.sent, Double(loaded.produced) / max(loaded.elapsed, 1e-9), options.rate,
                      last.processed, producer.failures))
        output(String(format: "RSS %@ MiB at %@ (warm), %@ MiB at %@: %+.1f MiB/h, %+.1f%% of the warm RSS per hour",
                      mib(warm.residentBytes), elapsedText(warm.elapsed), mib(loaded.residentBytes), elapsedText(loaded.elapsed),
                      growth / 1_048_576, growthShare * 100))
        output("max outbox depth \(samples.compactMap(\.outbox).max() ?? 0), max lag \(samples.compactMap(\.lag).max() ?? 0); "
               + "paused in \(samples.filter(\.paused).count) and stalled in \(samples.filter(\.stalled).count) of \(samples.count) samples")
        output("open files \(first.openFiles) first, \(last.openFiles) last; threads \(first.threads) first, \(last.threads) last; "
               + "state \(mib(first.stateBytes)) → \(mib(last.stateBytes)) MiB; \(last.violations) violations, \(last.published) outputs published")
        output(drained.map { String(format: "drained: lag 0 and outbox 0 %.1f s after the producer stopped", $0) }
               ?? "drained: NOT within \(Self.drainLimit) of the producer stopping (last lag \(last.lag.map(String.init) ?? "-"), outbox \(last.outbox.map(String.init) ?? "-"))")
        if let productionError { output("producer: \(productionError)") }
        output("daemon: " + (failure ?? "alive throughout, exit \(exit.map(String.init) ?? "?") on SIGTERM")
               + "; \(logLines) warning/error log lines in \(siblingPath(csv, "daemon.log"))")
        output("samples: \(samples.count), in \(csv)")
        let rssOK = growthShare < 0.1
        let passed = failure == nil && rssOK && drained != nil && exit == 0
        output("verdict: \(passed ? "PASS" : "FAIL") (RSS growth \(String(format: "%.1f", growthShare * 100))%/h of the warm RSS, "
               + "limit 10%: \(rssOK ? "ok" : "too much"); lag and outbox back to 0 at the end: \(drained != nil ? "yes" : "no"); "
               + "daemon alive and stopped cleanly: \(failure == nil && exit == 0 ? "yes" : "no"))")
        return passed
    }

    // MARK: - The pipeline folder

    private func writePipeline(at dir: URL, bootstrap: String, port: Int) throws {
        let fm = FileManager.default
        let source = try PipelineLoader().load(directory: options.pipelineDirectory)
        try fm.createDirectory(at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
        for folder in ["rules", "lists", "texts"] where fm.fileExists(atPath: options.pipelineDirectory + "/" + folder) {
            try fm.copyItem(atPath: options.pipelineDirectory + "/" + folder, toPath: dir.appendingPathComponent(folder).path)
        }
        let state = options.store == "sqlite" ? "state.sqlite" : options.store
        try """
        name: \(source.name)
        lateness: \(source.lateness)
        dedup_window: \(source.dedupWindow)
        sources:
          kafka:
            bootstrap_servers: \(bootstrap)
            group: consentinel-soak
            topics: [\(Self.eventTopic)]
            properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "500" }
        state: { url: "\(state)" }
        sinks:
          violations: { topic: privacy.violations, file: out/violations.jsonl }
          dead_letters: { topic: privacy.dead-letters, file: out/dead-letters.jsonl }
          digests: { file: out/digests }
        alerts:
          routes:
            - name: security
              min_severity: high
              channels:
                - type: jsonl
                  file: \(dir.appendingPathComponent("out/alerts.jsonl").path)
        http: { host: 127.0.0.1, port: "\(port)" }
        """.write(to: dir.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
    }
}

/// Sends generated lines at `rate` messages per second (a token bucket refilled every 10 ms), keyed by subject and
/// stamped with the event's time, as `TopicPublisher` does; counts deliveries that fail instead of stopping.
final class SteadyProducer: Sendable {
    private let configuration: ProducerConfiguration
    private let rate: Int
    private let total: Int
    private let generator: EventGenerator.Options
    private let counters = Mutex<(sent: Int, failures: Int, stopped: Bool)>((0, 0, false))

    init(bootstrap: String, rate: Int, total: Int, generator: EventGenerator.Options) {
        var config = ProducerConfiguration(bootstrapServers: [bootstrap])
        config.linger = .milliseconds(5)
        config.messageTimeout = .seconds(60)
        configuration = config
        self.rate = rate
        self.total = total
        self.generator = generator
    }

    var sent: Int { counters.withLock { $0.sent } }
    var failures: Int { counters.withLock { $0.failures } }
    func stop() { counters.withLock { $0.stopped = true } }

    /// Produces until `total` messages are sent or `stop()`; the producer (and its connections) ends with it.
    func run(topic: String, from start: ContinuousClock.Instant) async throws {
        let producer = try Producer(configuration: configuration)
        var lines = EventGenerator(generator).makeIterator()
        var pending: [Delivery] = []
        var head = 0
        var sent = 0
        var time: Int64?
        while sent < total, !counters.withLock({ $0.stopped }) {
            let due = min(total, Int(KafkaBenchmark.seconds(ContinuousClock.now - start) * Double(rate)))
            while sent < due, let line = lines.next() {
                let bytes = Array(line.utf8)
                if let t = TopicPublisher.stringField("time", in: bytes).flatMap({ Timestamp(rfc3339: String(decoding: $0, as: UTF8.self)) }) {
                    time = t.microseconds / 1000
                }
                let key = TopicPublisher.stringField("subject", in: bytes)
                while true {
                    let queued = Result { () throws(KafkaError) in
                        try producer.enqueue(topic: topic, key: key, value: bytes, timestamp: time)
                    }
                    switch queued {
                    case .success(let delivery):
                        pending.append(delivery)
                        sent += 1
                    case .failure(let error):
                        // A full local queue: wait for the oldest delivery, then try again.
                        guard error.code == .queueFull, head < pending.count else { throw error }
                        await settle(pending[head])
                        head += 1
                        continue
                    }
                    break
                }
            }
            while head < pending.count, pending[head].isComplete {
                await settle(pending[head])
                head += 1
            }
            if head > 65_536 {
                pending.removeFirst(head)
                head = 0
            }
            counters.withLock { $0.sent = sent }
            try await Task.sleep(for: .milliseconds(10))
        }
        for delivery in pending[head...] { await settle(delivery) }
        await producer.shutdown()
    }

    private func settle(_ delivery: Delivery) async {
        if (try? await delivery.report()) == nil { counters.withLock { $0.failures += 1 } }
    }
}

/// The CSV of the samples, written row by row so that an interrupted soak keeps what it measured.
final class CSVFile: Sendable {
    let path: String
    private let handle: FileHandle

    init(path: String) throws {
        self.path = path
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard let handle = OutputFile.open(path) else { throw BenchmarkError("cannot write \(path): \(OutputFile.reason)") }
        handle.write(Data((Soak.Sample.header + "\n").utf8))
        self.handle = handle
    }

    func append(_ row: String) { handle.write(Data((row + "\n").utf8)) }
}

/// `/tmp/soak.csv` and `daemon.log` make `/tmp/soak.daemon.log`.
func siblingPath(_ path: String, _ suffix: String) -> String {
    URL(fileURLWithPath: path).deletingPathExtension().path + "." + suffix
}

func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

/// `1h02m03s`, `5m00s`, `20s`.
func elapsedText(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm%02ds", s / 3600, s % 3600 / 60, s % 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}

