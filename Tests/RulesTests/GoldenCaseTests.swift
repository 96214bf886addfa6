import Events
import Foundation
import Replay
import Rules
import Testing

/// Runs every folder of Tests/RulesTests/Cases: rules.yaml (+ lists.yaml, pipeline.yaml) over events.jsonl must
/// give exactly expected.jsonl (see Cases/README.md).
@Suite struct GoldenCaseTests {
    static let casesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Cases")

    static var caseNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: casesDirectory.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: casesDirectory.appendingPathComponent("\($0)/events.jsonl").path) }
            .sorted()
    }

    @Test func thereAreEnoughCases() {
        #expect(Self.caseNames.count >= 60)
    }

    @Test(arguments: caseNames)
    func golden(_ name: String) throws {
        let dir = Self.casesDirectory.appendingPathComponent(name)
        let pipeline = try CasePipeline.load(caseDirectory: dir)
        let outcome = RuleCase(name: name, directory: dir.path).run(pipeline: pipeline)
        #expect(outcome.passed, "\(name):\n\(outcome.failures.joined(separator: "\n"))\nactual:\n\(outcome.actual.map(\.serialized).joined(separator: "\n"))")
    }
}

/// `Violation.write(into:)`, the output path, gives the bytes of its JSON tree for every violation of every case.
@Suite struct ViolationBytesTests {
    @Test func writtenBytesEqualTheJSONTree() throws {
        var compared = 0
        for name in GoldenCaseTests.caseNames {
            let dir = GoldenCaseTests.casesDirectory.appendingPathComponent(name)
            let pipeline = try CasePipeline.load(caseDirectory: dir)
            let engine = Engine(pipeline: pipeline)
            let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
            let text = try String(contentsOf: dir.appendingPathComponent("events.jsonl"), encoding: .utf8)
            for line in text.split(separator: "\n") {
                if case .success(let event) = decoder.decode(String(line)) { engine.offer(event) }
            }
            engine.finish()
            for v in engine.drainViolations() {
                var bytes: [UInt8] = []
                v.write(into: &bytes)
                #expect(String(decoding: bytes, as: UTF8.self) == v.json.serialized, "\(name): \(v.id)")
                compared += 1
            }
        }
        #expect(compared > 100)
    }
}

/// Builds a pipeline folder for a case: its rules.yaml, lists.yaml and pipeline.yaml (default lateness 5m).
enum CasePipeline {
    static func load(caseDirectory dir: URL) throws -> Pipeline {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.appendingPathComponent("consentinel-pipeline-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: tmp) }
        try fm.createDirectory(at: tmp.appendingPathComponent("rules"), withIntermediateDirectories: true)
        try fm.createDirectory(at: tmp.appendingPathComponent("lists"), withIntermediateDirectories: true)
        let pipelineFile = dir.appendingPathComponent("pipeline.yaml")
        let pipelineText = fm.fileExists(atPath: pipelineFile.path)
            ? try String(contentsOf: pipelineFile, encoding: .utf8) : "name: case\n"
        try pipelineText.write(to: tmp.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        try fm.copyItem(at: dir.appendingPathComponent("rules.yaml"), to: tmp.appendingPathComponent("rules/rules.yaml"))
        let lists = dir.appendingPathComponent("lists.yaml")
        if fm.fileExists(atPath: lists.path) {
            try fm.copyItem(at: lists, to: tmp.appendingPathComponent("lists/lists.yaml"))
        }
        return try PipelineLoader().load(directory: tmp.path)
    }
}
