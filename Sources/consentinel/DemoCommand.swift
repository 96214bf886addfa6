import ArgumentParser
import Foundation
import Simulation

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the daemon on an embedded Kafka with a month of generated traffic; show violations live, then digests.")

    @Option(name: .long, help: "How long to run, such as 90s or 5m, or a number of seconds (at least 5s).")
    var duration = DurationArgument(seconds: 60)
    @Option(name: .long, help: "Events in the month of traffic.") var events: Int = 3_000
    @Option(name: .long, help: "The pipeline folder.") var pipeline: String = "pipelines/default"

    func validate() throws {
        guard duration.seconds >= 5 else { throw ValidationError("--duration is at least 5 seconds") }
        guard events >= 100 else { throw ValidationError("--events is at least 100") }
        guard FileManager.default.fileExists(atPath: pipeline + "/rules") else {
            throw ValidationError("no pipeline at \(pipeline): run the demo from the repository's folder or pass --pipeline")
        }
    }

    func run() async throws {
        let demo = Demo(pipelineDirectory: pipeline, duration: duration.swiftDuration, events: events,
                        colour: isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        try await demo.run()
    }
}
