import Events
import Foundation
import Replay
import Rules
import Testing

/// What-if: the default pipeline against a copy with a shorter `keep` for precise location (30d → 10d) and a lower
/// `limit` for bulk access (100 → 50), over generated traffic; the expected counts are worked out from the events
/// themselves, without the engine.
@Suite struct CompareTests {
    static let options = EventGenerator.Options(
        events: 76_000, subjects: 800, seed: 2, months: 2, invalidRate: 0, duplicateRate: 0.001)

    @Test func shorterKeepAndLowerLimitGiveTheExpectedOnlyOldAndOnlyNewCounts() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let changed = dir.appendingPathComponent("changed")
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline, toPath: changed.path)
        try edit(changed.appendingPathComponent("rules/retention.yaml"), "keep: 30d", "keep: 10d", after: "rule: retention-precise-location")
        try edit(changed.appendingPathComponent("rules/access.yaml"), "limit: 100", "limit: 50", after: "rule: bulk-access")

        let lines = Array(EventGenerator(Self.options))
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(lines, to: input)
        let old = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let new = try PipelineLoader().load(directory: changed.path)
        let job = ReplayJob(pipeline: old, options: .init(
            inputs: [input.path], violations: dir.appendingPathComponent("v.jsonl").path, compare: new))
        let summary = try job.run()
        // The reasoning below takes events in event-time order: none may be late.
        #expect(summary.late == 0)
        let report = try #require(summary.comparison)

        // The old pipeline's side is what the replay wrote.
        #expect(report.rows.map(\.inOld).reduce(0, +) == summary.violations.values.reduce(0, +))

        let expected = Expectation(lines)
        let bulk = try #require(report.row("bulk-access"))
        #expect(bulk.onlyOld == 0)
        #expect(bulk.changed == 0)
        #expect(bulk.onlyNew == expected.windowsOver(50) - expected.windowsOver(100))
        #expect(bulk.both == expected.windowsOver(100))
        // Seed 2's bursts give windows of 57, 86 and 134 customers.
        #expect(bulk.onlyNew == 2 && bulk.both == 1)

        let location = try #require(report.row("retention-precise-location"))
        let (overdue30, expired30) = expected.retention(keepDays: 30)
        let (overdue10, expired10) = expected.retention(keepDays: 10)
        #expect(overdue10 > overdue30 && overdue30 > 0)
        // Every clock overdue after 30 days is overdue after 10: the same finding at an earlier deadline (its id
        // holds the deadline, so it pairs as `changed`); no finding is only in the old pipeline.
        #expect(location.onlyOld == 0)
        #expect(location.changed == overdue30)
        #expect(location.both == expired30)
        #expect(location.onlyNew == (overdue10 - overdue30) + (expired10 - expired30))
        #expect(location.inNew == overdue10 + expired10)

        for row in report.rows where !["bulk-access", "retention-precise-location"].contains(row.rule) {
            #expect(row.onlyOld == 0 && row.onlyNew == 0 && row.changed == 0, "\(row.rule) did not change")
            #expect(row.both == row.inOld)
        }
        #expect(report.table.contains("retention-precise-location"))
        #expect(location.onlyNewSamples.count == 3 && location.changedSamples.count == 3)
        let json = report.json
        #expect(json["rules"] != nil)
    }

    private func edit(_ file: URL, _ from: String, _ to: String, after marker: String) throws {
        let text = try String(contentsOf: file, encoding: .utf8)
        let start = try #require(text.range(of: marker))
        let at = try #require(text.range(of: from, range: start.upperBound..<text.endIndex))
        try text.replacingCharacters(in: at, with: to).write(to: file, atomically: true, encoding: .utf8)
    }
}

/// The counts the two rules should give, worked out from the generated events directly.
private struct Expectation {
    struct Event {
        var id: String
        var type: String
        var time: Int64
        var subject: String
        var actor: String?
        var categories: [String]
    }

    var events: [Event] = []

    init(_ lines: [String]) {
        var seen = Set<String>()
        for line in lines {
            guard let v = try? JSONValue.parse(line), case .string(let id)? = v["id"], seen.insert(id).inserted,
                  case .string(let type)? = v["type"], case .string(let t)? = v["time"], let time = Timestamp(rfc3339: t),
                  case .string(let subject)? = v["subject"] else { continue }
            var actor: String?
            if case .string(let a)? = v["actor"] { actor = a }
            var categories: [String] = []
            if case .array(let list)? = v["categories"] {
                categories = list.compactMap { if case .string(let c) = $0 { c } else { nil } }
            }
            events.append(Event(id: id, type: type, time: time.microseconds, subject: subject, actor: actor,
                                categories: categories))
        }
        // Event-time order, arrival order among equal times (a stable sort).
        events = events.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// Ten-minute windows of one actor's accesses with more than `limit` distinct customers.
    func windowsOver(_ limit: Int) -> Int {
        let size: Int64 = 600_000_000
        var windows: [String: Set<String>] = [:]
        for e in events where e.type == "access" {
            guard let actor = e.actor else { continue }
            windows["\(actor) \(e.time - e.time % size)", default: []].insert(e.subject)
        }
        return windows.values.filter { $0.count > limit }.count
    }

    /// (overdue clocks, accesses of expired data) for precise location kept `keepDays` after collection.
    func retention(keepDays: Int64) -> (overdue: Int, expired: Int) {
        let keep = keepDays * 86_400_000_000
        let category = "user.location.precise"
        func under(_ a: String, _ b: String) -> Bool { a == b || a.hasPrefix(b + ".") }
        var clocks: [String: (deadline: Int64, fired: Bool)] = [:]
        var overdue = 0
        var expired = 0
        for e in events {
            // A deadline fires before any event at or after it.
            if var clock = clocks[e.subject], !clock.fired, clock.deadline <= e.time {
                clock.fired = true
                clocks[e.subject] = clock
                overdue += 1
            }
            switch e.type {
            case "collect" where e.categories.contains { under($0, category) }:
                clocks[e.subject] = (e.time + keep, false)
            case "delete" where e.categories.contains { $0 == "*" || under(category, $0) }:
                clocks[e.subject] = nil
            case "access", "use", "share":
                if let clock = clocks[e.subject], e.time >= clock.deadline,
                   e.categories.contains(where: { under($0, category) || under(category, $0) }) {
                    expired += 1
                }
            default: break
            }
        }
        // The end of the replay: the watermark goes to the last event's time.
        let end = events.last?.time ?? 0
        overdue += clocks.values.filter { !$0.fired && $0.deadline <= end }.count
        return (overdue, expired)
    }
}
