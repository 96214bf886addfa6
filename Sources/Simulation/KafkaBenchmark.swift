import Daemon
import Dispatch
import Events
import Foundation
import Kafka
import Rules
import Synchronization

/// `consentinel bench kafka`: the daemon against raw librdkafka on the same topic of librdkafka's mock cluster, in
/// one run: (a) a consumer with the daemon's consumer settings and no processing, (b) the real daemon (the
/// pipeline's rules, SQLite state with its normal durability, file sinks) draining the topic from a fresh group,
/// (c) the latency from a message's produce time to its violation's line in the sink, at a steady offered rate,
/// for one stateless rule.
public struct KafkaBenchmark {
    public struct Options: Sendable {
        public var events: Int
        public var subjects: Int
        public var partitions: Int
        public var pipelineDirectory: String
        /// Messages per second offered in the latency phase; 0 skips it.
        public var rate: Int
        public var latencySeconds: Int
        /// Whether to measure raw librdkafka too (`bench memory` does not).
        public var raw: Bool
        /// Months of event time the produced traffic spans.
        public var months: Int

        public init(
            events: Int, subjects: Int, partitions: Int, pipelineDirectory: String, rate: Int, latencySeconds: Int,
            raw: Bool = true, months: Int = 3
        ) {
            self.raw = raw
            self.months = months
            self.events = events
            self.subjects = subjects
            self.partitions = partitions
            self.pipelineDirectory = pipelineDirectory
            self.rate = rate
            self.latencySeconds = latencySeconds
        }
    }

    /// Throughput of one consumer run, over the window from its first batch to its last message.
    public struct Drain: Sendable, Codable {
        public var messages: Int
        public var seconds: Double
        public var cpuSeconds: Double
        public var peakResident: Int
        public var perSecond: Double { Double(messages) / max(seconds, 1e-9) }
        public var cpuMicrosPerMessage: Double { cpuSeconds * 1e6 / Double(max(messages, 1)) }
    }

    public struct Latency: Sendable {
        public var offered: Int
        public var measured: Int
        public var p50: Double
        public var p99: Double
        public var max: Double
    }

    public let options: Options
    public let output: @Sendable (String) -> Void

    public init(options: Options, output: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.output = output
    }

    public func run() async throws {
        let source = try PipelineLoader().load(directory: options.pipelineDirectory)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-bench-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: work) }
        let cluster = try MockCluster(brokers: 1)
        let topic = "bench.events"
        try cluster.createTopic(topic, partitions: options.partitions)

        let produced = try await produce(topic: topic, cluster: cluster)
        output(String(format: "topic: %d partitions, %d messages (%.0f MiB) produced in %.1f s", options.partitions,
                      produced.messages, Double(produced.bytes) / 1_048_576, produced.seconds))
        try await checkNothingDropped(topic: topic, cluster: cluster, produced: produced.messages)

        let drainDir = work.appendingPathComponent("drain")
        let port = try DaemonProcess.freePort()
        try writePipeline(at: drainDir, source: source, bootstrap: cluster.bootstrapServers, topic: topic,
                          group: "bench-daemon", lateness: source.lateness, port: port, rules: nil)
        if options.raw {
            let raw = try await rawConsumption(pipeline: drainDir, expected: produced.messages)
            output(String(format: "raw librdkafka (the daemon's consumer settings, no processing): %9.0f msg/s  %6.1f µs CPU/msg  peak RSS %4.0f MiB",
                          raw.perSecond, raw.cpuMicrosPerMessage, Double(raw.peakResident) / 1_048_576))
            let daemon = try await daemonDrain(pipeline: drainDir, port: port, expected: produced.messages)
            output(String(format: "daemon (%@ rules, SQLite state, file sinks):                 %9.0f msg/s  %6.1f µs CPU/msg  peak RSS %4.0f MiB",
                          source.name, daemon.perSecond, daemon.cpuMicrosPerMessage, Double(daemon.peakResident) / 1_048_576))
            output(String(format: "daemon / raw: %.3f", daemon.perSecond / raw.perSecond))
        } else {
            let daemon = try await daemonDrain(pipeline: drainDir, port: port, expected: produced.messages)
            output(String(format: "daemon (%@ rules, SQLite state, file sinks): %.0f msg/s, %.1f µs CPU/msg, peak RSS %.0f MiB",
                          source.name, daemon.perSecond, daemon.cpuMicrosPerMessage, Double(daemon.peakResident) / 1_048_576))
        }
        output("Each consumer runs in its own process (figures exclude the embedded broker); messages/s from its first batch to its last message.")

        if options.rate > 0 {
            let latency = try await measureLatency(work: work.appendingPathComponent("latency"), source: source, cluster: cluster)
            output(String(format: "latency at %d msg/s offered for %d s (one match rule, lateness 0): p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d of %d messages measured)",
                          options.rate, options.latencySeconds, latency.p50, latency.p99, latency.max, latency.measured, latency.offered))
        }
    }

    // MARK: - Producing

    private func produce(topic: String, cluster: MockCluster) async throws -> (messages: Int, bytes: Int, seconds: Double) {
        var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        config.messageTimeout = .seconds(120)
        let producer = try Producer(configuration: config)
        let generator = EventGenerator(.init(events: options.events, subjects: options.subjects, seed: 42, months: options.months))
        var bytes = 0
        let lines = generator.lazy.map { line -> String in
            bytes += line.utf8.count
            return line
        }
        let started = ContinuousClock.now
        let sent = try await TopicPublisher.publish(lines, topic: topic, producer: producer)
        let seconds = Self.seconds(ContinuousClock.now - started)
        await producer.shutdown()
        return (sent, bytes, seconds)
    }

    /// The mock broker keeps only about 5 MB per partition and drops older messages: a drain of a truncated topic
    /// would measure less than was produced.
    private func checkNothingDropped(topic: String, cluster: MockCluster, produced: Int) async throws {
        let admin = try Admin(configuration: AdminConfiguration(bootstrapServers: [cluster.bootstrapServers]))
        var kept: Int64 = 0
        for p in 0..<Int32(options.partitions) { kept += try await admin.watermarks(topic: topic, partition: p).count }
        guard kept == Int64(produced) else {
            throw BenchmarkError("the embedded broker kept \(kept) of \(produced) messages (it keeps about 5 MB per "
                + "partition): use more --partitions (about one per 2.5 MB of traffic) or fewer --events")
        }
    }

    // MARK: - (a) raw librdkafka, in a child process

    private func rawConsumption(pipeline: URL, expected: Int) async throws -> Drain {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try DaemonProcess.executable())
        process.arguments = ["bench", "consume", "--pipeline", pipeline.path, "--group", "bench-raw", "--expect", String(expected)]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let result = try? JSONDecoder().decode(Drain.self, from: Data(line.utf8))
        else { throw BenchmarkError("the raw consumer failed (exit \(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))") }
        return result
    }

    /// Reads `expected` messages with the consumer settings of the daemon of `pipeline` (group `group`), marking each
    /// batch processed and doing nothing else: what `bench consume` runs in the child process.
    public static func consume(pipeline: String, group: String, expected: Int) async throws -> Drain {
        let configuration = try DaemonConfiguration.load(pipeline: try PipelineLoader().load(directory: pipeline), environment: [:])
        var config = configuration.consumerConfiguration()
        config.groupID = group
        config.idleInterval = nil
        let consumer = try Consumer(configuration: config)
        var count = 0
        var first: (at: ContinuousClock.Instant, cpu: Double, count: Int)?
        let deadline = ContinuousClock.now + .seconds(1800)
        for try await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            count += batch.messages.count
            if first == nil { first = (.now, ProcessStats.cpuSeconds(), count) }
            try consumer.markProcessed(batch)
            if count >= expected || ContinuousClock.now > deadline { break }
        }
        let end = ContinuousClock.now
        let cpu = ProcessStats.cpuSeconds()
        await consumer.shutdown()
        guard let first, count >= expected else { throw BenchmarkError("raw consumption read \(count) of \(expected) messages") }
        return Drain(messages: count - first.count, seconds: seconds(end - first.at), cpuSeconds: cpu - first.cpu,
                     peakResident: ProcessStats.peakResidentBytes())
    }

    // MARK: - (b) the daemon, in a child process

    private func daemonDrain(pipeline: URL, port: Int, expected: Int) async throws -> Drain {
        let daemon = try DaemonProcess(pipeline: pipeline, port: port)
        var first: (at: ContinuousClock.Instant, cpu: Double, count: Int)?
        var last = 0
        let deadline = ContinuousClock.now + .seconds(3600)
        while last < expected {
            guard daemon.isRunning else {
                throw BenchmarkError("the daemon exited after \(last) of \(expected) messages: \(daemon.tail())")
            }
            guard ContinuousClock.now < deadline else {
                await daemon.stop()
                throw BenchmarkError("the daemon processed \(last) of \(expected) messages in an hour")
            }
            // Every scrape costs the daemon CPU (rendering its metrics, reading /proc): at 50 a second, 5% of its
            // samples in a profile.
            try await Task.sleep(for: .milliseconds(100))
            last = Int(await daemon.metric("consentinel_messages_processed_total") ?? 0)
            if first == nil, last > 0 { first = (.now, daemon.cpuSeconds, last) }
        }
        let end = ContinuousClock.now
        let cpu = daemon.cpuSeconds
        let peak = daemon.peakResidentBytes
        await reportBatches(of: daemon)
        await daemon.stop()
        guard let first else { throw BenchmarkError("the daemon processed nothing") }
        return Drain(messages: last - first.count, seconds: Self.seconds(end - first.at), cpuSeconds: cpu - first.cpu,
                     peakResident: peak)
    }

    /// How many batches the daemon committed, their mean size and duration (from its metrics).
    private func reportBatches(of daemon: DaemonProcess) async {
        guard let batches = await daemon.metric("consentinel_batch_duration_seconds_count"), batches > 0,
              let total = await daemon.metric("consentinel_batch_duration_seconds_sum"),
              let messages = await daemon.metric("consentinel_messages_processed_total") else { return }
        output(String(format: "daemon batches: %.0f, %.0f messages and %.1f ms each on average", batches,
                      messages / batches, total * 1000 / batches))
    }

    // MARK: - (c) latency

    private func measureLatency(work: URL, source: Pipeline, cluster: MockCluster) async throws -> Latency {
        let topic = "bench.latency"
        try cluster.createTopic(topic, partitions: options.partitions)
        let rules = """
            - rule: every-access
              kind: match
              severity: low
              description: Every access (a stateless rule for the latency benchmark)
              when: event.type == "access"
              reason: seen
            """
        let port = try DaemonProcess.freePort()
        try writePipeline(at: work, source: source, bootstrap: cluster.bootstrapServers, topic: topic, group: "bench-latency",
                          lateness: .seconds(0), port: port, rules: rules)
        let daemon = try DaemonProcess(pipeline: work, port: port)
        do {
            try await daemon.waitUntilReady(timeout: .seconds(60))
            try await daemon.waitUntilAssigned(timeout: .seconds(60))
        } catch {
            await daemon.stop()
            throw error
        }
        let cpuBefore = daemon.cpuSeconds
        let sink = SinkWatcher(path: work.appendingPathComponent("out/violations.jsonl").path)
        let watcher = Thread { sink.watch() }
        watcher.start()

        var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
        config.linger = .milliseconds(1)
        let producer = try Producer(configuration: config)
        let measured = options.rate * options.latencySeconds
        // A further second of traffic after the measured messages moves the watermark past the last of them.
        let total = measured + options.rate
        let started = ContinuousClock.now
        var sent = 0
        var deliveries: [Delivery] = []
        deliveries.reserveCapacity(total)
        while sent < total {
            let due = min(total, Int(Self.seconds(ContinuousClock.now - started) * Double(options.rate)) + 1)
            while sent < due {
                let nanos = DispatchTime.now().uptimeNanoseconds
                let time = Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1e6))
                let subject = "c\(sent % 10_000)"
                let tag = sent < measured ? "\(nanos)" : "tail"
                let line = #"{"id":"lat-\#(sent)","type":"access","time":"\#(time.rfc3339)","subject":"\#(subject)","actor":"bench","role":"support","purpose":"essential.service.operations.support","categories":["user.name"],"attributes":{"sent":"\#(tag)"}}"#
                deliveries.append(try producer.enqueue(topic: topic, key: Array(subject.utf8), value: Array(line.utf8)))
                sent += 1
            }
            try await Task.sleep(for: .microseconds(500))
        }
        for d in deliveries { _ = try await d.report() }
        let settle = ContinuousClock.now + .seconds(30)
        while sink.count < measured, ContinuousClock.now < settle { try await Task.sleep(for: .milliseconds(50)) }
        sink.stop()
        let cpu = daemon.cpuSeconds - cpuBefore
        // The messages it had committed by then: the last second's may still be waiting.
        let processed = await daemon.metric("consentinel_messages_processed_total") ?? 0
        await producer.shutdown()
        await reportBatches(of: daemon)
        if processed > 0 {
            output(String(format: "daemon CPU while offered traffic: %.1f µs per message (%.0f messages, one violation each)",
                          cpu * 1e6 / processed, processed))
        }
        await daemon.stop()
        let samples = sink.latencies.sorted()
        guard !samples.isEmpty else { throw BenchmarkError("no violation reached the sink: \(daemon.tail())") }
        func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
        return Latency(offered: measured, measured: samples.count, p50: percentile(0.5), p99: percentile(0.99),
                       max: samples.last!)
    }

    // MARK: - Pipeline folders

    private func writePipeline(
        at dir: URL, source: Pipeline, bootstrap: String, topic: String, group: String, lateness: Events.Duration, port: Int,
        rules: String?
    ) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        if let rules {
            try fm.createDirectory(at: dir.appendingPathComponent("rules"), withIntermediateDirectories: true)
            try rules.write(to: dir.appendingPathComponent("rules/rules.yaml"), atomically: true, encoding: .utf8)
        } else {
            for folder in ["rules", "lists"] where fm.fileExists(atPath: options.pipelineDirectory + "/" + folder) {
                try fm.copyItem(atPath: options.pipelineDirectory + "/" + folder, toPath: dir.appendingPathComponent(folder).path)
            }
        }
        try """
        name: \(source.name)
        lateness: \(lateness)
        dedup_window: \(source.dedupWindow)
        sources:
          kafka:
            bootstrap_servers: \(bootstrap)
            group: \(group)
            topics: [\(topic)]
            properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "500", fetch.wait.max.ms: "10" }
        state: { url: state.sqlite }
        sinks:
          violations: { file: out/violations.jsonl }
          dead_letters: { file: out/dead-letters.jsonl }
          digests: { file: out/digests }
        http: { host: 127.0.0.1, port: "\(port)" }
        """.write(to: dir.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
    }

    static func seconds(_ d: Swift.Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Follows a JSONL sink file as it grows and records, for each line carrying `"sent":"<nanoseconds>"`, how long ago
/// that was (milliseconds, on the monotonic clock the producer stamped it with).
final class SinkWatcher: Sendable {
    let path: String
    private let state = Mutex<(latencies: [Double], stopped: Bool)>(([], false))

    init(path: String) { self.path = path }

    var latencies: [Double] { state.withLock { $0.latencies } }
    var count: Int { state.withLock { $0.latencies.count } }
    func stop() { state.withLock { $0.stopped = true } }

    func watch() {
        var handle: FileHandle?
        var carry: [UInt8] = []
        let needle = Array(#""sent":""#.utf8)
        while !state.withLock({ $0.stopped }) {
            if handle == nil { handle = FileHandle(forReadingAtPath: path) }
            guard let file = handle else {
                usleep(1000)
                continue
            }
            let data = file.availableData
            guard !data.isEmpty else {
                usleep(500)
                continue
            }
            let now = DispatchTime.now().uptimeNanoseconds
            carry += data
            var found: [Double] = []
            var lineStart = 0
            for i in carry.indices where carry[i] == 10 {
                if let sent = Self.number(after: needle, in: carry[lineStart..<i]) {
                    found.append(Double(now &- sent) / 1e6)
                }
                lineStart = i + 1
            }
            carry.removeFirst(lineStart)
            state.withLock { $0.latencies += found }
        }
        try? handle?.close()
    }

    static func number(after needle: [UInt8], in line: ArraySlice<UInt8>) -> UInt64? {
        guard line.count > needle.count else { return nil }
        var i = line.startIndex
        while i + needle.count <= line.endIndex {
            if line[i] == needle[0], line[i..<(i + needle.count)].elementsEqual(needle) {
                var value: UInt64 = 0
                var j = i + needle.count
                var digits = 0
                while j < line.endIndex, line[j] >= 48, line[j] <= 57 {
                    value = value * 10 + UInt64(line[j] - 48)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            i += 1
        }
        return nil
    }
}
