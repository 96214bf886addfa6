@testable import Alerts
@testable import Daemon
import Foundation
import Replay
@testable import Rules
import Testing

@Suite("Replay and alerts")
struct ReplayAlertsTests {
    func share(_ id: String, actor: String, time: String) -> String {
        #"{"id":"\#(id)","type":"share","time":"\#(time)","subject":"s-\#(id)","actor":"\#(actor)","purpose":"marketing","categories":["user.contact.email"],"recipient":"ad-network"}"#
    }

    func replay(alerts: Bool, url: String) throws -> (ReplayJob.Summary, AlertSettings) {
        let loaded = try pipeline("""
            name: p
            alerts:
              routes:
                - name: security
                  min_severity: high
                  window: 5m
                  channels:
                    - type: webhook
                      url: \(url)
            """)
        let directory = URL(fileURLWithPath: loaded.directory)
        let input = directory.appendingPathComponent("events.jsonl")
        try [
            share("e1", actor: "alice", time: "2026-03-01T10:00:00Z"), share("e2", actor: "alice", time: "2026-03-01T10:01:00Z"),
            share("e3", actor: "bob", time: "2026-03-01T10:02:00Z"), share("e4", actor: "alice", time: "2026-03-01T10:04:59Z"),
            share("e5", actor: "alice", time: "2026-03-01T10:05:00Z"),
        ].joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        let settings = try AlertSettings.load(pipeline: loaded, environment: [:])
        let job = ReplayJob(pipeline: loaded, options: .init(
            inputs: [input.path], violations: directory.appendingPathComponent("v.jsonl").path,
            alerts: alerts ? settings : nil))
        return (try job.run(), settings)
    }

    @Test func aReplayCollectsNoAlertsUnlessAsked() throws {
        let (summary, _) = try replay(alerts: false, url: "http://127.0.0.1:9/never")
        #expect(summary.violations["sharing"] == 5)
        #expect(summary.alerts.isEmpty)
    }

    @Test func withAlertsItDeliversThemGroupedByEventTimeWindows() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let (summary, settings) = try replay(alerts: true, url: server.url("/hook"))
        #expect(summary.alerts["security/webhook"]?.count == 5)
        let report = try await ReplayAlerts.deliver(summary.alerts, settings: settings)
        #expect(report.alerts == ["security/webhook": 5])
        #expect(report.messages == ["security/webhook": 3])
        #expect(report.failed == ["security/webhook": 0])
        let messages = server.accepted("/hook").map(\.json)
        let counts = messages.map { "\($0["sample"].flatMap { ($0 as? [String: Any])?["actor"] as? String } ?? "?"):\($0["count"] as? Int ?? 0)" }
        // alice 10:00–10:04:59 in one window; alice 10:05 opens the next; bob alone.
        #expect(counts.sorted() == ["alice:1", "alice:3", "bob:1"])
        let first = try #require(messages.first { $0["count"] as? Int == 3 })
        #expect(first["first"] as? String == "2026-03-01T10:00:00Z" && first["last"] as? String == "2026-03-01T10:04:59Z")
    }
}
