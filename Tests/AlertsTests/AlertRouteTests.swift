@testable import Alerts
import Foundation
import Testing

@testable import Daemon
@testable import Rules

@Suite("Alert routes: matching and configuration")
struct AlertRouteTests {
    let sink = AlertChannelSettings(name: "stderr", kind: .standardError)

    @Test func matchesBySeverityRulesAndTags() {
        let high = AlertRoute(name: "security", minSeverity: .high, channels: [sink])
        #expect(high.takes(violation("1", severity: .high)))
        #expect(high.takes(violation("2", severity: .critical)))
        #expect(!high.takes(violation("3", severity: .medium)))

        let byRule = AlertRoute(name: "dpo", rules: ["erasure-deadline"], channels: [sink])
        #expect(byRule.takes(violation("4", rule: "erasure-deadline", severity: .low)))
        #expect(!byRule.takes(violation("5", rule: "role-access")))

        let byTag = AlertRoute(name: "fraud", minSeverity: .medium, tags: ["fraud", "bulk"], channels: [sink])
        #expect(byTag.takes(violation("6", severity: .medium, tags: ["bulk"])))
        #expect(!byTag.takes(violation("7", severity: .low, tags: ["bulk"])), "every condition must hold")
        #expect(!byTag.takes(violation("8", severity: .critical, tags: ["other"])))
    }

    @Test func aRuleNamingARouteAlwaysReachesIt() {
        let explicit = AlertRoute(name: "privacy-office", channels: [sink])
        #expect(!explicit.hasConditions)
        #expect(!explicit.takes(violation("1", severity: .critical)), "a route without conditions takes only rules naming it")
        #expect(explicit.takes(violation("2", severity: .low, alert: ["privacy-office"])))
        let high = AlertRoute(name: "security", minSeverity: .high, channels: [sink])
        #expect(high.takes(violation("3", severity: .low, alert: ["security"])), "named routes ignore their conditions")
        let routes = [high, explicit]
        #expect(routes.destinations(for: violation("4", severity: .critical, alert: ["privacy-office"]))
            == ["security/stderr", "privacy-office/stderr"])
    }

    @Test func parsesEveryChannelTypeWithSecretsFromEnvironmentAndFiles() throws {
        let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try "  https://hooks.slack.com/services/T0/B0/SECRET-SLACK \n".write(to: secrets, atomically: true, encoding: .utf8)
        let loaded = try pipeline("""
            name: p
            alerts:
              retry_base: 200ms
              retry_max: 1m
              routes:
                - name: security
                  min_severity: high
                  window: 5m
                  channels:
                    - type: webhook
                      url: ${SOC_URL}
                      headers:
                        Authorization: Bearer ${SOC_TOKEN}
                    - type: slack
                      url_file: \(secrets.path)
                    - type: pagerduty
                      routing_key: ${PD_KEY}
                      auto_resolve: 4h
                    - type: kafka
                      topic: privacy.alerts
                    - type: jsonl
                      file: out/alerts.jsonl
                    - type: stderr
                    - type: stderr
                      name: console
                - name: dpo
                  rules: [sharing]
                  tags: [gdpr]
                  channels:
                    - type: webhook
                      name: ticketing
                      url: http://tickets.internal/hook
                      timeout: 3s
            """)
        let settings = try AlertSettings.load(
            pipeline: loaded,
            environment: ["SOC_URL": "https://soc.example/hook?token=SECRET-SOC", "SOC_TOKEN": "SECRET-TOKEN", "PD_KEY": "SECRET-PD"])
        #expect(settings.retry.base == .milliseconds(200))
        #expect(settings.retry.cap == .seconds(60))
        #expect(settings.routes.map(\.name) == ["security", "dpo"])
        let security = settings.routes[0]
        #expect(security.minSeverity == .high)
        #expect(security.window == .seconds(300))
        #expect(security.channels.map(\.name) == ["webhook", "slack", "pagerduty", "kafka", "jsonl", "stderr", "console"])
        guard case .webhook(let url, let headers, _) = security.channels[0].kind,
            case .slack(let slack) = security.channels[1].kind,
            case .pagerDuty(let key, let pdURL, let resolve) = security.channels[2].kind,
            case .kafka(let topic) = security.channels[3].kind, case .jsonl(let file) = security.channels[4].kind
        else {
            Issue.record("channel kinds: \(security.channels.map(\.typeName))")
            return
        }
        #expect(url.value == "https://soc.example/hook?token=SECRET-SOC")
        #expect(headers.map(\.0) == ["Authorization"] && headers.first?.1.value == "Bearer SECRET-TOKEN")
        #expect(slack.value == "https://hooks.slack.com/services/T0/B0/SECRET-SLACK")
        #expect(key.value == "SECRET-PD" && pdURL == AlertChannelSettings.pagerDutyEventsURL && resolve == .seconds(14_400))
        #expect(topic == "privacy.alerts")
        #expect(file == loaded.directory + "/out/alerts.jsonl")
        let dpo = settings.routes[1]
        #expect(dpo.rules == ["sharing"] && dpo.tags == ["gdpr"] && dpo.minSeverity == nil && dpo.window == nil)
        #expect(dpo.channels[0].timeout == .seconds(3))
        // Secrets never show in descriptions of the settings.
        let printed = "\(settings.routes)" + String(reflecting: settings.routes)
        for secret in ["SECRET-SOC", "SECRET-TOKEN", "SECRET-SLACK", "SECRET-PD"] {
            #expect(!printed.contains(secret), "\(secret) printed")
        }
    }

    @Test func theDefaultPipelineRoutesHighAndAboveToStandardError() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let loaded = try PipelineLoader().load(directory: root.appendingPathComponent("pipelines/default").path)
        let settings = try AlertSettings.load(pipeline: loaded, environment: [:])
        #expect(settings.routes.map(\.name) == ["security"])
        #expect(settings.routes[0].minSeverity == .high)
        #expect(settings.routes[0].channels.map(\.typeName) == ["stderr"])
    }

    @Test(arguments: [
        ("routes:\n    - name: a\n      channels: []", "has no channels"),
        ("routes:\n    - name: a\n      channels:\n        - type: carrier-pigeon", "unknown channel type"),
        ("routes:\n    - name: a\n      channels:\n        - type: slack", "needs url or url_file"),
        ("routes:\n    - name: a\n      min_severity: urgent\n      channels:\n        - type: stderr", "min_severity"),
        ("routes:\n    - name: a\n      window: soon\n      channels:\n        - type: stderr", "must be a duration"),
        ("routes:\n    - name: a\n      channels:\n        - type: slack\n          url_file: /nonexistent/secret", "cannot read"),
        (
            "routes:\n    - name: a\n      channels:\n        - type: stderr\n    - name: a\n      channels:\n        - type: stderr",
            "defined twice"
        ),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          timeout: 30s", "timeout must be at most 10s"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          max_queue: none", "max_queue must be a positive"),
        ("routes:\n    - name: a\n      channels:\n        - type: stderr\n          max_queue: \"0\"", "max_queue must be a positive"),
    ])
    func refusesBadRoutes(_ alerts: String, _ expected: String) throws {
        let loaded = try pipeline("name: p\nalerts:\n  \(alerts)\n")
        #expect {
            try AlertSettings.load(pipeline: loaded, environment: [:])
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func aRuleNamingAnUnknownRouteIsRefused() throws {
        let loaded = try pipeline(
            "name: p\nalerts:\n  routes:\n    - name: security\n      channels:\n        - type: stderr\n",
            rules: defaultRules + "\n  alert: [secutiry]\n")
        #expect(loaded.rules[0].alert == ["secutiry"])
        #expect {
            try AlertSettings.load(pipeline: loaded, environment: [:])
        } throws: { error in
            "\(error)".contains("alerts route secutiry")
        }
        #expect(AlertSettings.unknownRoutes(in: loaded) == [
            "\(loaded.rules[0].location): error: rule sharing alerts route secutiry, which alerts.routes does not define"
        ])
    }

    @Test func maxQueueIsPerChannelWithADefault() throws {
        let loaded = try pipeline(
            "name: p\nalerts:\n  routes:\n    - name: a\n      channels:\n        - type: stderr\n          max_queue: \"250\"\n"
                + "          timeout: 10s\n        - type: stderr\n          name: console\n")
        let settings = try AlertSettings.load(pipeline: loaded, environment: [:])
        #expect(settings.routes[0].channels.map(\.maxQueue) == [250, 10_000])
        #expect(settings.routes[0].channels[0].timeout == .seconds(10))
    }

    /// SIGHUP reloads the rules checked as at start: a rule naming an undefined route is refused with its location.
    @Test func aReloadNamingAnUnknownRouteIsRefused() throws {
        let loaded = try pipeline(
            "name: p\nalerts:\n  routes:\n    - name: security\n      channels:\n        - type: stderr\n",
            rules: defaultRules + "\n  alert: [secutiry]\n")
        #expect {
            try PipelineService.loadForReload(directory: loaded.directory)
        } throws: { error in
            "\(error)".contains("\(loaded.rules[0].location): error: rule sharing alerts route secutiry")
        }
        let fine = try pipeline(
            "name: p\nalerts:\n  routes:\n    - name: security\n      channels:\n        - type: stderr\n",
            rules: defaultRules + "\n  alert: [security]\n")
        #expect(try PipelineService.loadForReload(directory: fine.directory).rules.count == 1)
    }

    @Test func aMissingSecretNamesTheVariableNotAValue() throws {
        let loaded = try pipeline("name: p\nalerts:\n  routes:\n    - name: a\n      channels:\n        - type: slack\n          url: ${SLACK_URL}\n")
        #expect {
            try AlertSettings.load(pipeline: loaded, environment: [:])
        } throws: { error in
            "\(error)".contains("SLACK_URL is not set")
        }
    }
}
