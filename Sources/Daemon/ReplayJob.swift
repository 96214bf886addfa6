import Events
import Foundation
import Rules

/// Replays JSONL event files through the engine: the same engine as the daemon, files instead of Kafka.
public final class ReplayJob {
    public struct Options: Sendable {
        public var inputs: [String]
        public var until: Timestamp?
        public var violations: String
        public var deadLetters: String?
        public var digests: String?

        public init(inputs: [String], until: Timestamp? = nil, violations: String, deadLetters: String? = nil, digests: String? = nil) {
            self.inputs = inputs
            self.until = until
            self.violations = violations
            self.deadLetters = deadLetters
            self.digests = digests
        }
    }

    public struct Summary: Sendable {
        public var lines = 0
        public var events = 0
        public var duplicates = 0
        public var late = 0
        public var afterUntil = 0
        public var deadLetters: [String: Int] = [:]
        public var violations: [String: Int] = [:]
        public var months: [String] = []
        public init() {}
    }

    public let pipeline: Pipeline
    public let options: Options
    public private(set) var summary = Summary()
    /// Called now and then with (bytes read so far, lines so far).
    public var progress: ((Int, Int) -> Void)?

    public init(pipeline: Pipeline, options: Options) {
        self.pipeline = pipeline
        self.options = options
    }

    public func run() throws(DaemonError) -> Summary {
        let engine = Engine(pipeline: pipeline)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        let violationsOut = try JSONLWriter(path: options.violations)
        let deadOut = try options.deadLetters.map { path throws(DaemonError) in try JSONLWriter(path: path) }
        let digests = options.digests.map { DigestCollector(directory: $0, pipeline: pipeline) }
        engine.observer = digests
        var summary = Summary()
        var writeError: DaemonError?

        func drain() {
            for v in engine.drainViolations() {
                summary.violations[v.rule, default: 0] += 1
                do { try violationsOut.write(v.json) } catch { writeError = error }
            }
        }

        for input in options.inputs {
            let reader = try LineReader(path: input)
            do {
                try reader.forEachLine { bytes, line in
                    summary.lines += 1
                    if bytes.allSatisfy({ $0 == 32 || $0 == 9 }) { return }
                    switch decoder.decode(bytes) {
                    case .failure(let error):
                        summary.deadLetters[error.reason.rawValue, default: 0] += 1
                        try deadOut?.write(DeadLetter(error, origin: .file(path: input, line: line), raw: bytes).json)
                    case .success(let event):
                        if let until = options.until, event.time > until {
                            summary.afterUntil += 1
                            return
                        }
                        summary.events += 1
                        switch engine.offer(event) {
                        case .duplicate: summary.duplicates += 1
                        case .late: summary.late += 1
                        case .accepted: break
                        }
                        drain()
                    }
                    if let writeError { throw writeError }
                    if summary.lines % 65536 == 0 { progress?(0, summary.lines) }
                }
            } catch let error as DaemonError {
                throw error
            } catch {
                throw DaemonError(.input, "\(input): \(error)")
            }
        }
        engine.finish(until: options.until)
        drain()
        if let writeError { throw writeError }
        try violationsOut.close()
        try deadOut?.close()
        if let digests {
            try digests.finish()
            if let error = digests.error { throw error }
            summary.months = digests.writtenMonths
        }
        self.summary = summary
        return summary
    }
}
