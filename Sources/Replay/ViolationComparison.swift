import Events
import Foundation
import Rules

/// What-if: the violations of two pipelines over the same events, per rule.
///
/// Violations are matched by id first (ids are deterministic from the rule, the reason and the triggering event or
/// key, so a finding both pipelines make has the same id). What is left is then paired by rule, reason, subject
/// and event: the same finding with other details, e.g. a retention deadline that moved with `keep` (an `overdue`
/// id includes its deadline). Those pairs are `changed`; the rest is `only_old` or `only_new`.
public final class ViolationComparison {
    struct Seen {
        var id: String
        var reason: String
        var subject: String
        var event: String
        var time: Timestamp
        var message: String

        var json: JSONValue {
            .object([("id", .string(id)), ("reason", .string(reason)), ("time", .string(time.rfc3339)),
                     ("subject", .string(subject)), ("event", .string(event)), ("message", .string(message))])
        }
    }

    let oldPipeline: Pipeline
    let newPipeline: Pipeline
    let samples: Int
    private var old: [String: [Seen]] = [:]
    private var new: [String: [Seen]] = [:]

    public init(old: Pipeline, new: Pipeline, samples: Int = 3) {
        oldPipeline = old
        newPipeline = new
        self.samples = max(0, samples)
    }

    public func addOld(_ v: Violation) { old[v.rule, default: []].append(Self.seen(v)) }
    public func addNew(_ v: Violation) { new[v.rule, default: []].append(Self.seen(v)) }

    private static func seen(_ v: Violation) -> Seen {
        Seen(id: v.id, reason: v.reason, subject: v.subject, event: v.event, time: v.time, message: v.message)
    }

    public func report() -> ComparisonReport {
        var ruleIDs: [String] = []
        for rule in oldPipeline.rules + newPipeline.rules where !ruleIDs.contains(rule.id) { ruleIDs.append(rule.id) }
        for rule in Set(old.keys).union(new.keys).sorted() where !ruleIDs.contains(rule) { ruleIDs.append(rule) }
        let rows = ruleIDs.map { rule -> ComparisonReport.Row in
            let severity = (newPipeline.rules.first { $0.id == rule } ?? oldPipeline.rules.first { $0.id == rule })?.severity.name
            return compare(rule: rule, severity: severity ?? "", old: old[rule] ?? [], new: new[rule] ?? [])
        }
        return ComparisonReport(old: oldPipeline.directory, new: newPipeline.directory, rows: rows)
    }

    private func compare(rule: String, severity: String, old: [Seen], new: [Seen]) -> ComparisonReport.Row {
        var row = ComparisonReport.Row(rule: rule, severity: severity, inOld: old.count, inNew: new.count)
        let newIDs = Set(new.map(\.id))
        let oldIDs = Set(old.map(\.id))
        row.both = old.filter { newIDs.contains($0.id) }.count
        let restOld = old.filter { !newIDs.contains($0.id) }
        let restNew = new.filter { !oldIDs.contains($0.id) }
        // Pair what is left by the finding: same reason, subject and event.
        var unpaired: [String: [Int]] = [:]
        for (i, v) in restNew.enumerated() { unpaired[Self.finding(v), default: []].append(i) }
        var pairedNew = Set<Int>()
        for v in restOld {
            let key = Self.finding(v)
            if var candidates = unpaired[key], !candidates.isEmpty {
                let i = candidates.removeFirst()
                unpaired[key] = candidates
                pairedNew.insert(i)
                row.changed += 1
                if row.changedSamples.count < samples {
                    row.changedSamples.append(.object([("old", v.json), ("new", restNew[i].json)]))
                }
            } else {
                row.onlyOld += 1
                if row.onlyOldSamples.count < samples { row.onlyOldSamples.append(v.json) }
            }
        }
        for (i, v) in restNew.enumerated() where !pairedNew.contains(i) {
            row.onlyNew += 1
            if row.onlyNewSamples.count < samples { row.onlyNewSamples.append(v.json) }
        }
        return row
    }

    private static func finding(_ v: Seen) -> String { "\(v.reason)\u{1F}\(v.subject)\u{1F}\(v.event)" }
}

/// The outcome of a what-if comparison: a row per rule of either pipeline.
public struct ComparisonReport: Sendable {
    public struct Row: Sendable {
        public var rule: String
        public var severity: String
        public var inOld: Int
        public var inNew: Int
        public var onlyOld = 0
        public var onlyNew = 0
        public var both = 0
        public var changed = 0
        public var onlyOldSamples: [JSONValue] = []
        public var onlyNewSamples: [JSONValue] = []
        public var changedSamples: [JSONValue] = []

        public var differs: Bool { onlyOld > 0 || onlyNew > 0 || changed > 0 }
    }

    /// The folders of the old (`--pipeline`) and new (`--compare`) pipelines.
    public var old: String
    public var new: String
    public var rows: [Row]

    public func row(_ rule: String) -> Row? { rows.first { $0.rule == rule } }

    public var json: JSONValue {
        .object([
            ("old", .string(old)), ("new", .string(new)),
            ("rules", .array(rows.map { r in
                .object([
                    ("rule", .string(r.rule)), ("severity", .string(r.severity)),
                    ("old", .int(Int64(r.inOld))), ("new", .int(Int64(r.inNew))),
                    ("only_old", .int(Int64(r.onlyOld))), ("only_new", .int(Int64(r.onlyNew))),
                    ("both", .int(Int64(r.both))), ("changed", .int(Int64(r.changed))),
                    ("samples", .object([
                        ("only_old", .array(r.onlyOldSamples)), ("only_new", .array(r.onlyNewSamples)),
                        ("changed", .array(r.changedSamples)),
                    ])),
                ])
            })),
        ])
    }

    /// A table for people, then samples of the rules that differ.
    public var table: String {
        let header = ["rule", "severity", "old", "new", "only old", "only new", "both", "changed"]
        let body = rows.map { r in
            [r.rule, r.severity, "\(r.inOld)", "\(r.inNew)", "\(r.onlyOld)", "\(r.onlyNew)", "\(r.both)", "\(r.changed)"]
        }
        var out = "what-if: old \(old), new \(new)\n"
        out += TextTable(header: header, rows: body, rightAligned: Set(2..<8)).text
        for r in rows where r.differs {
            out += "\n\(r.rule):\n"
            for (title, samples) in [("only old", r.onlyOldSamples), ("only new", r.onlyNewSamples)] where !samples.isEmpty {
                out += "  \(title):\n"
                for s in samples { out += "    \(Self.brief(s))\n" }
            }
            if !r.changedSamples.isEmpty {
                out += "  changed (same finding, other id):\n"
                for s in r.changedSamples {
                    out += "    old \(Self.brief(s["old"] ?? .null))\n    new \(Self.brief(s["new"] ?? .null))\n"
                }
            }
        }
        return out
    }

    private static func brief(_ v: JSONValue) -> String {
        func text(_ key: String) -> String {
            if case .string(let s)? = v[key] { return s }
            return ""
        }
        return "\(text("time")) \(text("reason")) \(text("subject")) (event \(text("event"))): \(text("message"))"
    }
}

/// A plain-text table with aligned columns, for summaries on a terminal; without a header, just the rows.
public struct TextTable: Sendable {
    public var header: [String]?
    public var rows: [[String]]
    public var rightAligned: Set<Int>

    public init(header: [String]?, rows: [[String]], rightAligned: Set<Int> = []) {
        self.header = header
        self.rows = rows
        self.rightAligned = rightAligned
    }

    public var text: String {
        let all = (header.map { [$0] } ?? []) + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { i in all.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                text += (i > 0 ? "  " : "") + (rightAligned.contains(i) ? pad + cell : cell + pad)
            }
            while text.hasSuffix(" ") { text.removeLast() }
            return "  " + text + "\n"
        }
        var out = ""
        if let header {
            out += line(header)
            out += "  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        }
        for r in rows { out += line(r) }
        return out
    }
}
