import ArgumentParser
import Daemon
import Foundation
import Logging

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon: Kafka in; Kafka, files and alerts out; HTTP for health and metrics.")

    @Option(name: .long, help: "The pipeline's pipeline.yaml, or its folder.")
    var config: String

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        let directory = try Self.pipelineDirectory(config: config)
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            try await DaemonApp.run(directory: directory)
        } catch let error as DaemonError {
            printError("consentinel: \(error)")
            // 2 and 78 (EX_CONFIG): the same files fail the same way, so a supervisor should not restart.
            throw ExitCode(error.code == .pipeline ? 2 : error.code == .arguments ? 78 : 1)
        }
    }
}

extension Run {
    /// The pipeline folder a `--config` names: the folder itself, or the folder of its `pipeline.yaml`.
    static func pipelineDirectory(config: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config, isDirectory: &isDirectory) else {
            throw ValidationError("no such file or folder: \(config)")
        }
        let directory = isDirectory.boolValue ? config : (config as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }
}
