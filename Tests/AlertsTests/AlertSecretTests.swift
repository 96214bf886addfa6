@testable import Alerts
import Foundation
import Testing

@testable import Rules

/// Every secret of the alert settings from the environment or from a file (`KEY_file`).
@Suite("Alert secrets from files")
struct AlertSecretTests {
    /// A pipeline folder with secret files beside pipeline.yaml.
    func load(_ alerts: String, files: [String: String], environment: [String: String] = [:]) throws -> AlertSettings {
        let loaded = try pipeline("name: p\nalerts:\n" + alerts)
        for (name, content) in files {
            let file = URL(fileURLWithPath: loaded.directory).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: file, atomically: true, encoding: .utf8)
        }
        return try AlertSettings.load(pipeline: loaded, environment: environment)
    }

    @Test func everySecretReadsFromAFileWithoutItsTrailingNewline() throws {
        let settings = try load(
            """
              hash_key_file: secrets/hash-key
              routes:
                - name: a
                  min_severity: high
                  channels:
                    - type: webhook
                      url_file: secrets/url
                      signing_secret_file: secrets/signing
                      headers:
                        Authorization_file: secrets/token
                    - type: pagerduty
                      routing_key_file: secrets/pd
                    - type: slack
                      url_file: secrets/slack
            """,
            files: [
                "secrets/hash-key": "hash-key-0123456789abcdef\n", "secrets/url": "https://soc/hook\n",
                "secrets/signing": "whsec-1\n", "secrets/token": "Bearer t0k\n", "secrets/pd": "PDKEY\r\n",
                "secrets/slack": "https://hooks.slack.com/s\n",
            ])
        let channels = settings.routes[0].channels
        guard case .webhook(let url, let headers, let signing) = channels[0].kind,
            case .pagerDuty(let key, _, _) = channels[1].kind, case .slack(let slack) = channels[2].kind
        else {
            Issue.record("kinds: \(channels.map(\.typeName))")
            return
        }
        #expect(url.value == "https://soc/hook" && signing?.value == "whsec-1")
        #expect(headers.map(\.0) == ["Authorization"] && headers[0].1.value == "Bearer t0k")
        #expect(key.value == "PDKEY" && slack.value == "https://hooks.slack.com/s")
        #expect(channels[2].redaction.key?.value == "hash-key-0123456789abcdef" && channels[2].redaction.subject == .hash)
    }

    @Test func theEnvironmentFormWorksForTheNewSecretsToo() throws {
        let settings = try load(
            "  hash_key: ${HASH_KEY}\n  routes:\n    - name: a\n      channels:\n        - type: webhook\n"
                + "          url: http://soc/hook\n          signing_secret: ${SIGNING}\n",
            files: [:], environment: ["HASH_KEY": "hash-key-0123456789abcdef", "SIGNING": "whsec-2"])
        guard case .webhook(_, _, let signing) = settings.routes[0].channels[0].kind else {
            Issue.record("not a webhook: \(settings.routes[0].channels[0].typeName)")
            return
        }
        #expect(signing?.value == "whsec-2")
        #expect(settings.routes[0].channels[0].redaction.key?.value == "hash-key-0123456789abcdef")
    }

    @Test(arguments: [
        ("  hash_key_file: /nonexistent/hash-key\n  routes: []", "alerts.hash_key_file"),
        ("  routes:\n    - name: a\n      channels:\n        - type: pagerduty\n          routing_key_file: /nonexistent/pd",
         "alerts.routes.a.channels.pagerduty.routing_key_file"),
        ("  routes:\n    - name: a\n      channels:\n        - type: webhook\n          url: http://x\n"
            + "          signing_secret_file: /nonexistent/signing", "alerts.routes.a.channels.webhook.signing_secret_file"),
        ("  routes:\n    - name: a\n      channels:\n        - type: slack\n          url_file: /nonexistent/slack",
         "alerts.routes.a.channels.slack.url_file"),
        ("  routes:\n    - name: a\n      channels:\n        - type: webhook\n          url: http://x\n          headers:\n"
            + "            Authorization_file: /nonexistent/token", "alerts.routes.a.channels.webhook.headers.Authorization_file"),
    ])
    func anUnreadableFileIsAnErrorNamingTheKeyAndThePath(_ alerts: String, _ key: String) throws {
        #expect {
            try load(alerts + "\n", files: [:])
        } throws: { error in
            let text = "\(error)"
            return text.contains(key) && text.contains("cannot read /nonexistent/") && text.contains("pipeline.yaml:")
        }
    }

    @Test func anEmptyFileIsAnError() throws {
        #expect {
            try load(
                "  routes:\n    - name: a\n      channels:\n        - type: pagerduty\n          routing_key_file: pd\n",
                files: ["pd": "\n"])
        } throws: { error in
            "\(error)".contains("routing_key_file") && "\(error)".contains("is empty")
        }
    }
}
