import Alerts
import Foundation
import Testing

@testable import Rules

/// Each HTTP channel's payload, as a real server receives it.
@Suite("Channel payloads over HTTP")
struct ChannelPayloadTests {
    let single = AlertMessage(route: "security", violations: [AlertViolation(violation("v-1", severity: .critical))])
    let group = AlertMessage(
        route: "security",
        violations: [
            AlertViolation(violation("v-1", time: "2026-03-01T10:00:00Z")),
            AlertViolation(violation("v-2", time: "2026-03-01T10:03:00Z")),
        ])

    @Test func webhookPostsTheAlertDocument() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let channel = HTTPAlertChannel(
            url: Secret(server.url("/hook")), format: .webhook, headers: [("X-Token", Secret("t0k"))])
        #expect(await channel.deliver(group) == .delivered)
        let body = try #require(server.accepted("/hook").first).json
        #expect(body["type"] as? String == "consentinel.alert")
        #expect(body["version"] as? Int == 1)
        #expect(body["action"] as? String == "trigger")
        #expect(body["id"] as? String == "v-1")
        #expect(body["route"] as? String == "security")
        #expect(body["rule"] as? String == "role-access")
        #expect(body["severity"] as? String == "high")
        #expect(body["count"] as? Int == 2)
        #expect(body["first"] as? String == "2026-03-01T10:00:00Z")
        #expect(body["last"] as? String == "2026-03-01T10:03:00Z")
        #expect(body["violation_ids"] as? [String] == ["v-1", "v-2"])
        let sample = try #require(body["sample"] as? [String: Any])
        #expect(sample["id"] as? String == "v-1" && sample["actor"] as? String == "alice")
        #expect((body["summary"] as? String)?.contains("2 violations by actor alice") == true)
    }

    @Test func slackPostsTextAndBlocks() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let channel = HTTPAlertChannel(url: Secret(server.url("/slack")), format: .slack)
        #expect(await channel.deliver(single) == .delivered)
        let body = try #require(server.accepted("/slack").first).json
        #expect((body["text"] as? String)?.hasPrefix("[critical] role-access: ") == true)
        let blocks = try #require(body["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["section", "section", "context"])
        let fields = try #require(blocks[1]["fields"] as? [[String: Any]]).compactMap { $0["text"] as? String }
        #expect(fields.contains("*Rule*\nrole-access") && fields.contains("*Actor*\nalice"))
        #expect(fields.allSatisfy { $0.hasPrefix("*") })
        let context = try #require(blocks[2]["elements"] as? [[String: Any]])
        #expect((context[0]["text"] as? String)?.contains("`v-1`") == true)
    }

    @Test func pagerDutyTriggersAndResolvesByViolationID() async throws {
        let server = try await AlertReceiver.start()
        defer { Task { await server.stop() } }
        let channel = HTTPAlertChannel(url: Secret(server.url("/pagerduty")), format: .pagerDuty(routingKey: Secret("R0UTING")))
        #expect(await channel.deliver(group) == .delivered)
        var resolve = single
        resolve.action = .resolve
        #expect(await channel.deliver(resolve) == .delivered)
        let bodies = server.accepted("/pagerduty").map(\.json)
        try #require(bodies.count == 2)
        #expect(bodies[0]["routing_key"] as? String == "R0UTING")
        #expect(bodies[0]["event_action"] as? String == "trigger")
        #expect(bodies[0]["dedup_key"] as? String == "v-1")
        let payload = try #require(bodies[0]["payload"] as? [String: Any])
        #expect(payload["severity"] as? String == "error")
        #expect(payload["source"] as? String == "consentinel")
        #expect(payload["component"] as? String == "role-access")
        #expect(payload["timestamp"] as? String == "2026-03-01T10:00:00Z")
        #expect((payload["summary"] as? String)?.isEmpty == false)
        let details = try #require(payload["custom_details"] as? [String: Any])
        #expect(details["count"] as? Int == 2 && details["violation_ids"] as? [String] == ["v-1", "v-2"])
        #expect(Set(bodies[1].keys) == ["routing_key", "event_action", "dedup_key"])
        #expect(bodies[1]["event_action"] as? String == "resolve" && bodies[1]["dedup_key"] as? String == "v-1")
    }

    @Test func failuresNameNeitherTheURLNorTheKey() async throws {
        let server = try await AlertReceiver.start()
        let url = server.url("/hook") + "?token=SECRET-IN-URL"
        await server.stop()
        let channel = HTTPAlertChannel(url: Secret(url), format: .pagerDuty(routingKey: Secret("SECRET-KEY")), timeout: .seconds(2))
        guard case .retry(_, let reason) = await channel.deliver(single) else {
            Issue.record("a refused connection is retried")
            return
        }
        #expect(!reason.contains("SECRET-IN-URL") && !reason.contains("SECRET-KEY"), "\(reason)")
    }

    @Test func fileAndStandardErrorChannelsWriteOneJSONLine() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)/a.jsonl").path
        let channel = JSONLAlertChannel(path: path)
        #expect(await channel.deliver(single) == .delivered)
        #expect(await channel.deliver(group) == .delivered)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[1].contains(#""count":2"#) && lines[0].contains(#""id":"v-1""#))
        #expect(await StandardErrorAlertChannel().deliver(single) == .delivered)
    }
}
