import Digests
import Events
import Foundation
import Rules

/// Feeds the engine's events and violations into monthly digests and writes each month when it closes:
/// `DIR/YYYY-MM/subjects.jsonl` and `DIR/YYYY-MM/org.json`.
public final class DigestCollector: EngineObserver {
    public let directory: String
    private var digests = MonthlyDigests()
    public private(set) var writtenMonths: [String] = []
    public private(set) var error: DaemonError?

    public init(directory: String, pipeline: Pipeline) {
        self.directory = directory
    }

    public func processed(_ event: Event, late: Bool) { digests.record(event, late: late) }

    public func violated(_ v: Violation) {
        digests.recordViolation(subject: v.subject, rule: v.rule, severity: v.severity.name, time: v.time)
    }

    public func monthEnded(_ end: Timestamp) {
        for month in digests.close(endingBy: end) {
            do {
                try write(month.month, month.subjects, month.org)
            } catch {
                self.error = error
            }
        }
    }

    /// Nothing more to write at the end of a replay: months still open have not ended.
    public func finish() throws(DaemonError) {
        if let error { throw error }
    }

    private func write(_ month: String, _ subjects: [SubjectDigest], _ org: OrgDigest) throws(DaemonError) {
        let dir = URL(fileURLWithPath: directory).appendingPathComponent(month)
        let writer = try JSONLWriter(path: dir.appendingPathComponent("subjects.jsonl").path)
        for s in subjects { try writer.write(s.json) }
        try writer.close()
        let orgPath = dir.appendingPathComponent("org.json")
        do {
            try Data((org.json.pretty() + "\n").utf8).write(to: orgPath, options: .atomic)
        } catch {
            throw DaemonError(.output, "cannot write \(orgPath.path): \(error.localizedDescription)")
        }
        writtenMonths.append(month)
    }
}
