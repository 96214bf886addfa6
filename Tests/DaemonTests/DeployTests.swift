import Foundation
import Testing

/// deploy/ cannot run here (no Docker engine, Kafka or Kubernetes): `scripts/check-deploy.sh` lints it and checks it
/// against the configuration reference, and this test keeps that check in the suite.
@Suite struct DeployTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func deployFilesPassTheirChecks() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.root.appendingPathComponent("scripts/check-deploy.sh").path]
        process.currentDirectoryURL = Self.root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read before waiting, so a full pipe cannot block the script.
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "scripts/check-deploy.sh failed:\n\(output)")
    }
}
