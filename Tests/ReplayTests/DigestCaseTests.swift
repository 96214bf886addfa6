import Events
import Foundation
import Replay
import Rules
import Testing

/// Runs every folder of Tests/DigestsTests/Cases through the default pipeline and compares the digests written
/// (see Cases/README.md): subject digests line by line and whole, organisation digests on the keys listed.
@Suite struct DigestCaseTests {
    static let casesDirectory = Fixtures.root.appendingPathComponent("Tests/DigestsTests/Cases")

    static var caseNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: casesDirectory.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: casesDirectory.appendingPathComponent("\($0)/events.jsonl").path) }
            .sorted()
    }

    @Test func thereAreCases() { #expect(Self.caseNames.count >= 25) }

    @Test(arguments: caseNames)
    func digests(_ name: String) throws {
        let dir = Self.casesDirectory.appendingPathComponent(name)
        let out = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let digestsDir = try Fixtures.replayCase(dir, into: out)

        let fm = FileManager.default
        let expectedRoot = dir.appendingPathComponent("expected")
        let expectedMonths = try fm.contentsOfDirectory(atPath: expectedRoot.path).filter { !$0.hasPrefix(".") }.sorted()
        let actualMonths = ((try? fm.contentsOfDirectory(atPath: digestsDir.path)) ?? []).sorted()
        #expect(actualMonths == expectedMonths, "months written")
        for month in expectedMonths where actualMonths.contains(month) {
            let expected = try JSONValue.lines(ofFile: expectedRoot.appendingPathComponent("\(month)/subjects.jsonl").path)
            let actual = try JSONValue.lines(ofFile: digestsDir.appendingPathComponent("\(month)/subjects.jsonl").path)
            #expect(actual.count == expected.count, "\(month): subject digests")
            for (a, e) in zip(actual, expected) {
                #expect(a == e, "\(month):\nexpected \(e.serialized)\nactual   \(a.serialized)")
            }
            let expectedOrg = try JSONValue.parse(String(contentsOf: expectedRoot.appendingPathComponent("\(month)/org.json"), encoding: .utf8))
            let actualOrg = try JSONValue.parse(String(contentsOf: digestsDir.appendingPathComponent("\(month)/org.json"), encoding: .utf8))
            #expect(JSONValue.contains(actualOrg, expectedOrg), "\(month):\nexpected \(expectedOrg.serialized)\nactual   \(actualOrg.serialized)")
        }
    }
}
