import Digests
import Events
import Foundation
import Replay
import Rules
import Testing

/// Runs every folder of Tests/DigestsTests/Cases/Audit through the default pipeline and compares the audit of each
/// month in `expected/` with the one worked out by hand (see Cases/Audit/README.md).
@Suite struct AuditCaseTests {
    static let casesDirectory = Fixtures.root.appendingPathComponent("Tests/DigestsTests/Cases/Audit")

    static var caseNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: casesDirectory.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: casesDirectory.appendingPathComponent("\($0)/events.jsonl").path) }
            .sorted()
    }

    @Test func thereAreCases() { #expect(!Self.caseNames.isEmpty) }

    @Test(arguments: caseNames)
    func audit(_ name: String) throws {
        let dir = Self.casesDirectory.appendingPathComponent(name)
        let out = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let digests = try Fixtures.replayCase(dir, into: out)
        let expectedFiles = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("expected").path)
            .filter { $0.hasSuffix(".json") }.sorted()
        #expect(!expectedFiles.isEmpty)
        for file in expectedFiles {
            let month = String(file.dropLast(5))
            let expected = try JSONValue.parse(String(contentsOf: dir.appendingPathComponent("expected/\(file)"), encoding: .utf8))
            let actual = try JSONValue.parse(try DigestArchive(directory: digests.path).audit(month: month).json.serialized)
            #expect(actual == expected, "\(month):\nexpected \(expected.serialized)\nactual   \(actual.serialized)")
        }
    }
}
