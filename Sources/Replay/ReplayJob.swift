import Alerts
import Events
import Foundation
import Processing
import Rules

/// Replays events through the engine: the same engine as the daemon, with JSONL files (`run()`) or a time range of
/// Kafka topics (`run(kafka:)`) instead of a live group. With `Options.compare`, a second pipeline sees the same
/// decoded events in the same pass and `Summary.comparison` says how their violations differ.
public final class ReplayJob {
    public struct Options: Sendable {
        public var inputs: [String]
        public var until: Timestamp?
        public var violations: String
        public var deadLetters: String?
        public var digests: String?
        /// A second pipeline to compare with (what-if); its violations are compared, not written.
        public var compare: Pipeline?
        /// How many sample violations the comparison keeps per rule and column.
        public var samples: Int
        /// Alert routes to collect alerts for (`--alerts`); `nil`: a replay pages no one.
        public var alerts: AlertSettings?
        /// The process exits after this replay: the engine's and digests' state is left for the exit to reclaim
        /// instead of being freed object by object (a few percent of a replay's time).
        public var leavesStateForExit = false

        public init(
            inputs: [String], until: Timestamp? = nil, violations: String, deadLetters: String? = nil,
            digests: String? = nil, compare: Pipeline? = nil, samples: Int = 3, alerts: AlertSettings? = nil
        ) {
            self.inputs = inputs
            self.until = until
            self.violations = violations
            self.deadLetters = deadLetters
            self.digests = digests
            self.compare = compare
            self.samples = samples
            self.alerts = alerts
        }
    }

    /// What a replay did: the processing core's counters (`summary.events`, `summary.deadLetters`, …), and more.
    @dynamicMemberLookup
    public struct Summary: Sendable {
        public var counters = ProcessingCounters()
        public subscript<T>(dynamicMember key: KeyPath<ProcessingCounters, T>) -> T { counters[keyPath: key] }
        public var months: [String] = []
        /// Bytes of the input files (compressed size for gzip), or 0 for Kafka.
        public var inputBytes = 0
        public var comparison: ComparisonReport?
        /// With `Options.alerts`: the alerts collected for each destination (`ROUTE/CHANNEL`), to deliver with
        /// `ReplayJob.deliverAlerts`.
        public var alerts: [String: [AlertAggregator.Pending]] = [:]
        public init() {}
    }

    public let pipeline: Pipeline
    public let options: Options
    public private(set) var summary = Summary()
    /// Called every few thousand lines or messages, and once at the end with `finished` set. Cheap to call; the
    /// receiver decides how often to draw.
    public var progress: ((ReplayProgress) -> Void)?

    public init(pipeline: Pipeline, options: Options) {
        self.pipeline = pipeline
        self.options = options
    }

    /// Replays `options.inputs`, in order.
    public func run() throws(ReplayError) -> Summary {
        let sizes = options.inputs.map { path in
            ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
        }
        let total = sizes.reduce(0, +)
        let run = try ReplayRun(pipeline: pipeline, options: options)
        run.summary.inputBytes = total
        var done = 0
        for input in options.inputs {
            let reader = try LineReader(path: input)
            do {
                try reader.forEachLine { bytes, line in
                    try run.offer(bytes, origin: .file(path: input, line: line))
                    if run.intake.lines & 4095 == 0, let progress {
                        progress(run.progress(position: done + reader.bytesRead, total: total, unit: .bytes))
                    }
                }
            } catch let error as ReplayError {
                throw error
            } catch {
                throw ReplayError(.input, "\(input): \(error)")
            }
            done += reader.size
        }
        let summary = try run.finish()
        progress?(run.progress(position: total, total: total, unit: .bytes, finished: true))
        if options.leavesStateForExit { _ = Unmanaged.passRetained(run) }
        self.summary = summary
        return summary
    }

    /// Replays a time range of Kafka topics (see `KafkaTimeRange`).
    public func run(kafka range: KafkaTimeRange) async throws(ReplayError) -> Summary {
        let run = try ReplayRun(pipeline: pipeline, options: options)
        let progress = self.progress
        let total = try await range.read { (message, planned, read) throws(ReplayError) in
            try run.offer(message.bytes, origin: .kafka(topic: message.topic, partition: message.partition, offset: message.offset))
            if read & 1023 == 0, let progress {
                progress(run.progress(position: read, total: planned, unit: .messages))
            }
        }
        let summary = try run.finish()
        progress?(run.progress(position: total, total: total, unit: .messages, finished: true))
        if options.leavesStateForExit { _ = Unmanaged.passRetained(run) }
        self.summary = summary
        return summary
    }
}

/// Where a replay is, for a progress display.
public struct ReplayProgress: Sendable {
    public enum Unit: Sendable { case bytes, messages }
    /// Bytes of the input files read so far (for gzip files, of the compressed file), or Kafka messages read.
    public var position: Int
    /// All the bytes of the inputs, or the messages in the Kafka range as planned at the start.
    public var total: Int
    public var unit: Unit
    public var lines: Int
    public var events: Int
    public var violations: Int
    public var finished: Bool
}

/// One replay on the processing core: one lane (an engine over every event, its digests), the files it writes, and
/// the what-if engine of `--compare`. Sources call `offer` per line or message.
final class ReplayRun {
    let options: ReplayJob.Options
    let intake: EventIntake
    let engine: Engine
    let other: Engine?
    let digests: DigestBook
    let folder: DigestFolder?
    let violationsOut: JSONLWriter
    let deadOut: JSONLWriter?
    let comparison: ViolationComparison?
    var summary = ReplayJob.Summary()

    init(pipeline: Pipeline, options: ReplayJob.Options) throws(ReplayError) {
        self.options = options
        engine = Engine(pipeline: pipeline)
        digests = DigestBook(erasure: ErasureWatch(pipeline: pipeline))
        intake = EventIntake(taxonomy: pipeline.taxonomy, until: options.until)
        if let compare = options.compare {
            guard compare.taxonomy.sameKeys(as: pipeline.taxonomy) else {
                throw ReplayError(.arguments, "--compare needs a pipeline with the same taxonomy as --pipeline "
                    + "(\(compare.directory) differs from \(pipeline.directory)): events are decoded once for both")
            }
            other = Engine(pipeline: compare)
            comparison = ViolationComparison(old: pipeline, new: compare, samples: options.samples)
        } else {
            other = nil
            comparison = nil
        }
        do {
            violationsOut = try JSONLWriter(path: options.violations)
            deadOut = try options.deadLetters.map { path throws(ProcessingError) in try JSONLWriter(path: path) }
        } catch {
            throw ReplayError(error)
        }
        folder = options.digests.map(DigestFolder.init(directory:))
        if folder != nil { engine.observer = digests }
    }

    /// One line or message.
    func offer(_ bytes: UnsafeRawBufferPointer, origin: @autoclosure () -> Origin) throws(ReplayError) {
        do {
            switch intake.take(bytes, origin: origin(), into: engine, skipsBlank: true) {
            case .blank, .afterUntil: break
            case .deadLetter(let dead): try deadOut?.write(dead.json)
            case .event(let event, _):
                if let other { other.offer(event) }
                try drain()
            }
        } catch {
            throw ReplayError(error)
        }
    }

    /// Writes the violations found so far, and the months the watermark has passed.
    private func drain() throws(ProcessingError) {
        let found = engine.drainViolations()
        intake.count(found)
        for v in found {
            comparison?.addOld(v)
            if let routes = options.alerts?.routes {
                for destination in routes.destinations(for: v) {
                    let alert = AlertViolation(v)
                    let at = Date(timeIntervalSince1970: Double(v.time.microseconds) / 1e6)
                    summary.alerts[destination, default: []].append(
                        AlertAggregator.Pending(id: "\(destination)#\(v.id)", group: alert.group, at: at, violation: alert))
                }
            }
            try violationsOut.write(v)
        }
        if let other, let comparison {
            for v in other.drainViolations() { comparison.addNew(v) }
        }
        if let folder {
            for month in digests.close(through: engine.watermark) {
                try folder.write(month: month.month, subjects: month.subjects.lazy.map(\.jsonBytes), org: month.org)
                summary.months.append(month.month)
            }
        }
    }

    func progress(position: Int, total: Int, unit: ReplayProgress.Unit, finished: Bool = false) -> ReplayProgress {
        ReplayProgress(position: position, total: total, unit: unit, lines: intake.counters.lines, events: intake.counters.events,
                       violations: intake.counters.violations.values.reduce(0, +), finished: finished)
    }

    func finish() throws(ReplayError) -> ReplayJob.Summary {
        engine.finish(until: options.until)
        other?.finish(until: options.until)
        do {
            try drain()
            try violationsOut.close()
            try deadOut?.close()
        } catch {
            throw ReplayError(error)
        }
        summary.counters = intake.counters
        summary.comparison = comparison?.report()
        return summary
    }
}

extension Taxonomy {
    /// Whether both have the same category and use keys in the same order (so decoded events fit both).
    func sameKeys(as other: Taxonomy) -> Bool {
        categories.entries.map(\.key) == other.categories.entries.map(\.key)
            && uses.entries.map(\.key) == other.uses.entries.map(\.key)
    }
}
