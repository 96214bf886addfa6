import Events
import Foundation
import Testing

/// `consentinel demo --duration` briefly, as a newcomer runs it: violations appear, the month closes, pages exist.
@Suite struct DemoTests {
    @Test func aShortDemoShowsViolationsAndWhereTheDigestsAre() throws {
        let binary = Fixtures.root.appendingPathComponent(".build/debug/consentinel").path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build the executable first (scripts/test.sh does)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["demo", "--duration", "8s", "--events", "800"]
        process.currentDirectoryURL = Fixtures.root
        let out = Pipe()
        process.standardOutput = out
        let errors = try Fixtures.temporaryDirectory().appendingPathComponent("stderr")
        defer { try? FileManager.default.removeItem(at: errors.deletingLastPathComponent()) }
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        // A normal end says nothing on standard error: no cancellation or shutdown errors, no broker noise.
        let stderr = try String(contentsOf: errors, encoding: .utf8)
        #expect(stderr.isEmpty, "\(stderr)")
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("metrics at http://127.0.0.1:"))
        let violationLines = text.split(separator: "\n").filter { $0.contains("  HIGH ") || $0.contains("  CRITICAL ") || $0.contains("  MEDIUM ") }
        // A month as a company that mostly keeps its rules has it: each incident of the realistic traffic stands out.
        #expect(violationLines.contains { $0.contains("CRITICAL bulk-access:") }, "the bulk export is caught: \(text)")
        #expect(text.contains("  bulk-access: 1"), "and counted in the summary")
        for rule in ["role-access", "undisclosed-recipient", "consent-required", "sensitive-needs-ticket", "erasure-deadline"] {
            #expect(violationLines.contains { $0.contains(" \(rule): ") }, "\(rule): \(text)")
        }
        #expect((10...16).contains(violationLines.count), "\(violationLines.count) violations: \(text)")
        #expect(!text.contains("\u{1B}["), "no colours when not on a terminal")
        #expect(text.contains("Month closed: digests for 2026-01"), "\(text)")
        let paths = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("/") && ($0.hasSuffix(".html") || $0.hasSuffix(".jsonl") || $0.hasSuffix(".json")) }
        #expect(paths.contains { $0.hasSuffix("2026-01/subjects.jsonl") })
        #expect(paths.contains { $0.hasSuffix("-en.html") } && paths.contains { $0.hasSuffix("audit-en.html") })
        for path in paths { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
        let orgPath = try #require(paths.first { $0.hasSuffix("2026-01/org.json") })
        let org = try JSONValue.parse(String(contentsOfFile: orgPath, encoding: .utf8))
        guard case .int(let subjects)? = org["subjects"], case .int(let affected)? = org["violations"]?["subjects_affected"] else {
            Issue.record("org.json: \(org.serialized)")
            return
        }
        #expect(affected * 100 <= subjects * 5, "a few percent of the customers are affected: \(affected) of \(subjects)")
    }
}
