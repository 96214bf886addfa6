import Daemon
import Foundation
import Rules
import Testing

/// `config check` / `rules check`: pipeline.yaml held to `DaemonConfiguration.schema`.
struct ConfigCheckTests {
    static let ruleIDs: Set<String> = ["consent-required", "erasure-deadline", "bulk-access"]

    static func check(_ yaml: String, environment: [String: String] = [:], requireEnvironment: Bool = false)
        -> SettingsChecker.Findings
    {
        SettingsChecker(
            schema: DaemonConfiguration.schema, environment: environment, ruleIDs: ruleIDs,
            requireEnvironment: requireEnvironment
        ).check(yaml: yaml, file: "pipeline.yaml")
    }

    static func text(_ faults: [RuleError]) -> String { faults.map(\.description).joined(separator: "\n") }

    @Test func typosInAlertRoutesAreFoundWithCaretsAndSuggestions() {
        let findings = Self.check("""
            alerts:
              routes:
                - name: security
                  min_severty: critical
                  rules: [erasure-deadline, consent-requird]
                  channels:
                    - type: slak
                      url: https://hooks.example.com/x
                    - type: pagerduty
                      routing_key_file: /run/secrets/pd
                      auto_resolve: 10q
            """)
        #expect(Self.text(findings.errors) == """
            pipeline.yaml:4:7: error: unknown key 'min_severty' in alerts.routes[0]; did you mean 'min_severity'?
                  min_severty: critical
                  ^
            pipeline.yaml:5:33: error: alerts.routes[0].rules[1] names rule 'consent-requird', which the pipeline does not have; did you mean 'consent-required'?
                  rules: [erasure-deadline, consent-requird]
                                            ^
            pipeline.yaml:7:17: error: unknown type 'slak' at alerts.routes[0].channels[0] (file, jsonl, kafka, pagerduty, slack, stderr, webhook); did you mean 'slack'?
                    - type: slak
                            ^
            pipeline.yaml:11:25: error: alerts.routes[0].channels[1].auto_resolve must be a duration above zero such as 90s, 10m, 48h or 30d, not '10q'
                      auto_resolve: 10q
                                    ^
            """)
        #expect(findings.warnings.isEmpty)
    }

    @Test func valuesOfTheWrongShapeOrKind() {
        let findings = Self.check("""
            lateness: 5 minutes
            sources:
              kafka: [a, b]
            sinks:
              max_pending: -3
              violation: {file: v.jsonl}
            http:
              port: 70000
            portal:
              base_url: ftp://x
              language: sv
            alerts:
              routes:
                - name: no-channels
            """)
        let messages = findings.errors.map { "\($0.location!.line):\($0.location!.column) \($0.message)" }
        #expect(messages == [
            "1:11 lateness must be a duration such as 90s, 10m, 48h or 30d, not '5 minutes'",
            "3:10 sources.kafka must be a mapping, not a list",
            "5:16 sinks.max_pending must be a positive whole number, not '-3'",
            "6:3 unknown key 'violation' in sinks; did you mean 'violations'?",
            "8:9 http.port must be a port number (0–65535), not '70000'",
            "10:3 portal needs consent_topic",
            "10:13 portal.base_url must be an http(s) URL",
            "11:13 portal.language must be one of en, es, de, fr, not 'sv'",
            "14:7 alerts.routes[0] needs channels",
        ])
    }

    @Test func aKeyGivenTwiceIsFoundAtItsSecondPlace() {
        let findings = Self.check("http:\n  port: 9464\n  host: 0.0.0.0\n  port: 9465\n")
        #expect(Self.text(findings.errors) == "pipeline.yaml:4:3: error: YAML: key 'port' is given twice in one mapping\n  port: 9465\n  ^")
    }

    @Test func anUnknownKeyFarFromAnyNameListsTheKnownOnes() {
        let findings = Self.check("state:\n  backend: postgres\n")
        #expect(findings.errors.map(\.message) == ["unknown key 'backend' in state (known: url, timeout, checkpoint_interval)"])
    }

    @Test func unsetVariablesWarnUnlessRequired() {
        let yaml = """
            sources:
              kafka:
                bootstrap_servers: ${KAFKA_BOOTSTRAP}
                group: ${GROUP:-consentinel}
                topics: ${TOPICS}
            """
        let relaxed = Self.check(yaml, environment: ["TOPICS": "a,b"])
        #expect(relaxed.errors.isEmpty)
        #expect(Self.text(relaxed.warnings) == """
            pipeline.yaml:3:24: warning: environment variable KAFKA_BOOTSTRAP is not set (`run` would refuse to start)
                bootstrap_servers: ${KAFKA_BOOTSTRAP}
                                   ^
            """)
        let strict = Self.check(yaml, requireEnvironment: true)
        #expect(strict.errors.map(\.message) == [
            "environment variable KAFKA_BOOTSTRAP is not set", "environment variable TOPICS is not set",
        ])
        #expect(Self.check(yaml, environment: ["KAFKA_BOOTSTRAP": "k:9092", "TOPICS": "t"], requireEnvironment: true)
            .errors.isEmpty)
    }

    @Test func everyChannelTypeHasItsOwnKeys() {
        let findings = Self.check("""
            alerts:
              routes:
                - name: r
                  channels:
                    - {type: kafka}
                    - {type: stderr, topic: t}
                    - {type: slack, url_file: /run/secrets/slack, timeout: 5s, max_queue: 10}
                    - {type: webhook, url: "http://x", headers: {Authorization: "Bearer ${TOKEN:-t}"}}
            """)
        #expect(findings.errors.map(\.message) == [
            "alerts.routes[0].channels[0] needs topic",
            "unknown key 'topic' in alerts.routes[0].channels[1] (known: type, name, timeout, max_queue, redact)",
        ])
    }

    /// Every pipeline.yaml the project ships (the Kubernetes ConfigMap is generated from deploy/pipeline), and every pipeline fragment in the docs, passes: the schema cannot
    /// fall behind what the documentation tells people to write.
    @Test func shippedPipelinesAndDocumentedExamplesPass() throws {
        let root = Fixtures.root
        var files: [(String, String)] = []
        for path in ["pipelines/default/pipeline.yaml", "deploy/pipeline/pipeline.yaml", "deploy/compose/pipeline.yaml"] {
            files.append((path, try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)))
        }
        let topLevel = Set(["name", "taxonomy", "lateness", "dedup_window", "organisation", "sources", "state", "sinks", "http", "portal", "alerts"])
        for doc in ["operations.md", "alerts.md", "digests.md", "kafka.md"] {
            let text = try String(contentsOf: root.appendingPathComponent("docs/\(doc)"), encoding: .utf8)
            for (i, block) in text.components(separatedBy: "```yaml\n").dropFirst().enumerated() {
                let yaml = block.components(separatedBy: "```")[0]
                let first = yaml.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty } ?? ""
                guard let key = first.split(separator: ":").first, topLevel.contains(String(key)) else { continue }
                files.append(("docs/\(doc) block \(i + 1)", yaml))
            }
        }
        #expect(files.count >= 6, "\(files.map(\.0))")
        let rules = Set(try PipelineLoader().load(directory: Fixtures.defaultPipeline).rules.map(\.id))
        for (name, yaml) in files {
            let findings = SettingsChecker(schema: DaemonConfiguration.schema, environment: [:], ruleIDs: rules)
                .check(yaml: yaml, file: "pipeline.yaml")
            #expect(findings.errors.isEmpty, "\(name):\n\(Self.text(findings.errors))")
        }
    }

    /// With every variable set, `config check` also reads the file as `run` does: secret files, key lengths.
    @Test func theDaemonsOwnReadingFindsWhatTheSchemaCannot() throws {
        try CommandLineTests.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = dir.appendingPathComponent("p")
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline, toPath: pipeline.path)
        let file = pipeline.appendingPathComponent("pipeline.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        try (text.replacingOccurrences(of: "${CONSENTINEL_KAFKA_BOOTSTRAP}", with: "127.0.0.1:9092")
            + "portal:\n  secret_file: /nonexistent/portal-secret\n  consent_topic: privacy.events\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let out = try CommandLineTests.run(CommandLineTests.binary, ["config", "check", pipeline.path])
        #expect(out.status == 2, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("portal.secret_file: cannot read /nonexistent/portal-secret"), "\(out.stdout)")

        // Without `sources` (a replay's pipeline), the alert and portal sections are still read.
        try (text.components(separatedBy: "sources:")[0] + "alerts:\n  hash_key: short\n  routes: []\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let replay = try CommandLineTests.run(CommandLineTests.binary, ["config", "check", pipeline.path])
        #expect(replay.status == 2 && replay.stdout.contains("hash_key"), "\(replay.stdout)\(replay.stderr)")

        let missing = try CommandLineTests.run(CommandLineTests.binary, ["config", "check", dir.appendingPathComponent("none").path])
        #expect(missing.status == 2 && missing.stderr.contains("no such file or folder"), "\(missing.stderr)")
    }

    @Test func theCommandsExitTwoOnAFaultAndZeroOnWarnings() throws {
        try CommandLineTests.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = dir.appendingPathComponent("p")
        try FileManager.default.copyItem(atPath: Fixtures.defaultPipeline, toPath: pipeline.path)
        let good = try CommandLineTests.run(CommandLineTests.binary, ["config", "check", pipeline.path])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("warning: environment variable CONSENTINEL_KAFKA_BOOTSTRAP is not set"))
        #expect(good.stdout.contains("9 rules, 3 lists: OK, 1 warning"), "\(good.stdout)")
        let strict = try CommandLineTests.run(CommandLineTests.binary, ["rules", "check", "--require-env", pipeline.path])
        #expect(strict.status == 2, "\(strict.stdout)\(strict.stderr)")
        #expect(good.stderr.contains("note: the daemon's own reading of pipeline.yaml"), "\(good.stderr)")

        let file = pipeline.appendingPathComponent("pipeline.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        try text.replacingOccurrences(of: "- type: stderr", with: "- type: slak")
            .write(to: file, atomically: true, encoding: .utf8)
        for command in [["config", "check"], ["rules", "check"]] {
            let bad = try CommandLineTests.run(CommandLineTests.binary, command + [pipeline.path])
            #expect(bad.status == 2, "\(command): \(bad.stdout)\(bad.stderr)")
            #expect(bad.stdout.contains("error: unknown type 'slak'") && bad.stdout.contains("did you mean 'slack'?"))
            #expect(bad.stdout.contains("        - type: slak\n                ^"), "\(bad.stdout)")
            #expect(bad.stderr.contains("1 error, 1 warning in"), "\(bad.stderr)")
        }
    }
}
