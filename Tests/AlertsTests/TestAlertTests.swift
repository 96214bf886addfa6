import Alerts
import Foundation
import Testing

@testable import Rules

/// `consentinel alerts test`: through `TestAlert`, and as the built executable.
@Suite("Test alerts")
struct TestAlertTests {
    static let pdKey = "PD-ROUTING-KEY-SECRET"

    /// A route `security` with a signed webhook, Slack and PagerDuty to `server`, and a route `other`.
    func settings(_ server: AlertReceiver, extra: String = "") throws -> (Pipeline, AlertSettings) {
        let loaded = try pipeline("""
            name: p
            alerts:
              routes:
                - name: security
                  min_severity: high
                  channels:
                    - type: webhook
                      url: \(server.url("/hook"))
                      signing_secret: whsec-test
                    - type: slack
                      url: \(server.url("/slack"))
                    - type: pagerduty
                      routing_key: \(Self.pdKey)
                      url: \(server.url("/pagerduty"))
            \(extra)
                - name: other
                  channels:
                    - type: stderr
            """)
        return (loaded, try AlertSettings.load(pipeline: loaded, environment: [:]))
    }

    @Test func sendsOneMarkedAlertThroughEachChannelOfTheRoute() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let route = try TestAlert.route("security", in: try settings(server).1)
        let results = await TestAlert.send(route: route)
        #expect(results.map(\.destination) == ["security/webhook", "security/slack", "security/pagerduty"])
        #expect(results.allSatisfy { $0.delivered }, "\(results.map(\.outcome))")
        #expect(results.map(\.how) == ["webhook, signed, direct", "slack, direct", "pagerduty, direct"])
        let webhook = try #require(server.accepted("/hook").first)
        #expect(webhook.json["rule"] as? String == TestAlert.rule)
        #expect((webhook.json["sample"] as? [String: Any])?["subject"] as? String == TestAlert.subject)
        #expect(webhook.headers["consentinel-signature"]?.hasPrefix("v1=") == true)
        // Slack and PagerDuty redact by default: the test shows it.
        let slack = try #require(server.accepted("/slack").first).body
        #expect(slack.contains(TestAlert.rule) && !slack.contains(TestAlert.subject))
        let pagerDuty = try #require(server.accepted("/pagerduty").first)
        #expect(pagerDuty.json["routing_key"] as? String == Self.pdKey && !pagerDuty.body.contains(TestAlert.subject))
    }

    @Test func aChannelThatRefusesIsReportedWithItsReason() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        server.script("/slack", [.init(404)])
        server.script("/pagerduty", [.init(503)])
        let results = await TestAlert.send(route: try TestAlert.route("security", in: try settings(server).1))
        #expect(results.map(\.outcome) == [
            .delivered, .rejected(reason: "HTTP 404"), .retry(after: nil, reason: "HTTP 503"),
        ])
        #expect(server.received.count == 3, "one attempt each, no retries")
    }

    @Test func anUnknownRouteListsTheRoutes() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        #expect {
            try TestAlert.route("securty", in: try settings(server).1)
        } throws: { error in
            "\(error)" == "no alert route named securty; routes: security, other"
        }
    }

    @Test func previewsShowThePayloadsWithoutSecrets() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let previews = TestAlert.previews(route: try TestAlert.route("security", in: try settings(server).1))
        #expect(previews.map(\.destination) == ["security/webhook", "security/slack", "security/pagerduty"])
        let text = previews.map(\.payload.serialized).joined()
        #expect(!text.contains(Self.pdKey) && previews[2].payload["routing_key"] == "***")
        #expect(previews[0].payload["sample"]?["subject"] == .string(TestAlert.subject))
        #expect(!previews[1].payload.serialized.contains(TestAlert.subject))
        #expect(server.received.isEmpty, "nothing is sent")
    }

    // MARK: the executable

    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/consentinel").path

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) throws -> Outcome {
        try #require(
            FileManager.default.isExecutableFile(atPath: binary), "build the executable first (swift build --build-tests)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        // The child's environment, not this process's, names no proxy.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.lowercased().hasSuffix("_proxy") }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
    }

    @Test func theCommandExitsZeroOneOrTwo() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let (loaded, _) = try settings(
            server,
            extra: """
                    - type: stderr
                      redact: {subject: drop, evidence: drop}
            """)
        let config = loaded.directory + "/pipeline.yaml"

        let ok = try Self.run(["alerts", "test", "--route", "security", "--config", config])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let lines = ok.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.map { $0.first.map(String.init) } == [
            "security/webhook", "security/slack", "security/pagerduty", "security/stderr",
        ])
        #expect(lines.allSatisfy { $0.last == "ok" }, "\(ok.stdout)")
        #expect(server.accepted("/hook").count == 1 && server.accepted("/pagerduty").count == 1)
        // The stderr channel's line, redacted as configured.
        #expect(ok.stderr.contains(TestAlert.rule) && !ok.stderr.contains(TestAlert.subject), "\(ok.stderr)")

        server.script("/slack", [.init(404)])
        let failed = try Self.run(["alerts", "test", "--route", "security", "--config", loaded.directory])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("failed: HTTP 404"), "\(failed.stdout)")

        let unknown = try Self.run(["alerts", "test", "--route", "nope", "--config", config])
        #expect(unknown.status == 2 && unknown.stderr.contains("routes: security, other"), "\(unknown.stderr)")
        let missing = try Self.run(["alerts", "test", "--route", "security", "--config", "/nonexistent/pipeline.yaml"])
        #expect(missing.status == 2)

        let before = server.received.count
        let dry = try Self.run(["alerts", "test", "--route", "security", "--config", config, "--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("== security/pagerduty (pagerduty, direct)") && dry.stdout.contains("\"routing_key\": \"***\""))
        #expect(!dry.stdout.contains(Self.pdKey))
        #expect(server.received.count == before, "a dry run sends nothing")
    }
}
