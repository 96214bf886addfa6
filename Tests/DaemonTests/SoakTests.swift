import Foundation
import Testing

/// `consentinel bench soak` briefly: it samples the daemon in its child process, the daemon keeps up and survives,
/// and the CSV holds one row per sample.
@Suite struct SoakTests {
    @Test func aShortSoakSamplesTheDaemonAndWritesTheCSV() throws {
        let binary = Fixtures.root.appendingPathComponent(".build/debug/consentinel").path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build the executable first (scripts/test.sh does)")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("soak.csv")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["bench", "soak", "--duration", "20s", "--rate", "100", "--sample", "5s", "--subjects", "500",
                             "--partitions", "4", "--output", csv.path]
        process.currentDirectoryURL = Fixtures.root
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")

        // Samples at 0, 5, 10, 15 and 20 s, and one once the daemon has caught up.
        let sampleLines = text.split(separator: "\n").filter { $0.contains(" produced ") && $0.contains(" RSS ") }
        #expect(sampleLines.count == 6, "\(text)")
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "elapsed_s,produced,processed,rss_mib,threads,open_fds,outbox_depth,lag,violations,published,paused,stalled,state_mib,cpu_s")
        #expect(rows.count == sampleLines.count + 1)
        let last = try #require(rows.last).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let produced = try #require(Int(last[1])), processed = try #require(Int(last[2]))
        #expect(produced >= 1_900, "about 20 s at 100 msg/s: \(text)")
        #expect(processed >= produced, "every message consumed: \(text)")
        #expect(try #require(Int(last[7])) <= 5, "lag back to about 0: \(text)")
        #expect(try #require(Double(last[3])) > 1, "the daemon's RSS is sampled")
        #expect(try #require(Int(last[8])) > 0, "stress traffic makes violations")
        #expect(text.contains("daemon: alive throughout, exit 0"), "\(text)")
        #expect(text.contains("drained: lag 0 and outbox 0"), "\(text)")
        #expect(text.contains("verdict: "), "\(text)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("soak.daemon.log").path))
    }
}
