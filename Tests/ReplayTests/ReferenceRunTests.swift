import Crypto
import Events
import Foundation
import Replay
import Rules
import Testing

/// A replay of generated traffic against a stored reference run: `Reference/outputs.json` holds the SHA-256 of the
/// input and of every output file (violations, dead letters, each month's subject digests and organisation digest)
/// as the build before the speed work of issue 12 wrote them (980a61c; the input's path written as INPUT), with
/// `consent_state` added to subject digests since (with it removed, those files hash as 980a61c's did), and the
/// default rules' `message` templates since (with them removed from the rules, violations.jsonl hashes as before).
/// A change of any output byte fails here; an intended change of outputs updates that file, with the hashes this test
/// prints, in the same commit.
@Suite struct ReferenceRunTests {
    static let options = EventGenerator.Options(events: 40_000, subjects: 2_000, seed: 11, months: 3)
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Reference/outputs.json")

    @Test func outputsEqualTheStoredReferenceRun() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("events.jsonl")
        try Fixtures.write(Array(EventGenerator(Self.options)), to: input)
        let out = dir.appendingPathComponent("out")
        let job = ReplayJob(pipeline: try PipelineLoader().load(directory: Fixtures.defaultPipeline), options: .init(
            inputs: [input.path], violations: out.appendingPathComponent("violations.jsonl").path,
            deadLetters: out.appendingPathComponent("dead-letters.jsonl").path,
            digests: out.appendingPathComponent("digests").path))
        _ = try job.run()

        var actual = ["input": Self.sha256(try Data(contentsOf: input))]
        let files = FileManager.default.enumerator(at: out, includingPropertiesForKeys: [.isRegularFileKey])!
        for case let file as URL in files where (try file.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            // Dead letters name the input file: its path is written as INPUT, as in the reference.
            let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: input.path, with: "INPUT")
            actual[String(file.path.dropFirst(out.path.count + 1))] = Self.sha256(Data(text.utf8))
        }
        let stored = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: Self.reference))
        let printed = String(decoding: try Self.encoder.encode(actual), as: UTF8.self)
        #expect(actual["input"] == stored["input"], "the generator changed: regenerate the reference run")
        #expect(actual == stored, "outputs differ from the reference run; actual:\n\(printed)")
        #expect(stored.keys.contains { $0.hasSuffix("subjects.jsonl") } && stored.count >= 7)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return e
    }()

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
