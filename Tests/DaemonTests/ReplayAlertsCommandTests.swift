import Daemon
import Events
import Foundation
import Testing

/// `consentinel replay` and alerts: none without `--alerts`; with it, the default pipeline's `security` route writes
/// every violation of severity high or above to standard error.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ReplayAlertsCommandTests {
    @Test func replaySendsAlertsOnlyWhenAsked() throws {
        try CommandLineTests.requireBinary()
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try CommandLineTests.generated(dir, events: 3_000)
        let violations = dir.appendingPathComponent("v.jsonl").path
        let arguments = ["replay", "--pipeline", Fixtures.defaultPipeline, "--input", input.path, "--violations", violations]

        let silent = try CommandLineTests.run(CommandLineTests.binary, arguments)
        #expect(silent.status == 0, "\(silent.stderr)")
        #expect(!silent.stderr.contains("consentinel.alert"))

        let loud = try CommandLineTests.run(CommandLineTests.binary, arguments + ["--alerts"])
        #expect(loud.status == 0, "\(loud.stderr)")
        let high = try JSONValue.lines(ofFile: violations).compactMap { v -> String? in
            guard case .string(let severity)? = v["severity"], ["high", "critical"].contains(severity),
                case .string(let id)? = v["id"] else { return nil }
            return id
        }
        #expect(high.count > 10)
        let alerts = loud.stderr.split(separator: "\n").filter { $0.hasPrefix("{\"type\":\"consentinel.alert\"") }
        let ids = try alerts.map { line -> String in
            guard case .string(let id)? = try JSONValue.parse(String(line))["id"] else { return "" }
            return id
        }
        #expect(ids.sorted() == high.sorted())
        #expect(loud.stderr.contains("security/stderr"))
    }
}
