import Alerts
import ArgumentParser
import Daemon
import Foundation
import Kafka
import Rules

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Try a pipeline's alert routes.", subcommands: [TestRoute.self])

    struct TestRoute: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test",
            abstract: "Send one test alert (rule consentinel.test) through each channel of a route.",
            discussion: "Exit status: 0 when every channel took it, 1 when one did not, 2 for a bad configuration.")

        @Option(help: "The route's name.") var route: String
        @Option(help: "The pipeline's pipeline.yaml, or its folder.") var config: String
        @Flag(help: "Print what each channel would send instead of sending it.") var dryRun = false

        func run() async throws {
            let route: AlertRoute
            let pipeline: Pipeline
            do {
                pipeline = try PipelineLoader().load(directory: try Run.pipelineDirectory(config: config))
                route = try TestAlert.route(self.route, in: try AlertSettings.load(pipeline: pipeline))
            } catch {
                printError("consentinel: \(error)")
                throw ExitCode(2)
            }
            if dryRun {
                for preview in TestAlert.previews(route: route) {
                    print("== \(preview.destination) (\(preview.how))")
                    print(preview.payload.pretty())
                }
                return
            }
            let producer = route.channels.contains { if case .kafka = $0.kind { true } else { false } }
                ? Self.producer(pipeline) : nil
            let results = await TestAlert.send(route: route, producer: producer)
            await producer?.shutdown()
            let width = results.map { $0.destination.count + $0.how.count + 3 }.max() ?? 0
            for result in results {
                let padded = "\(result.destination) (\(result.how))".padding(toLength: width, withPad: " ", startingAt: 0)
                switch result.outcome {
                case .delivered: print("\(padded)  ok")
                case .retry(_, let reason), .rejected(let reason): print("\(padded)  failed: \(reason)")
                }
            }
            if !results.allSatisfy(\.delivered) { throw ExitCode(1) }
        }

        /// The daemon's producer, for Kafka channels; `nil` (those channels fail) when the pipeline has none.
        static func producer(_ pipeline: Pipeline) -> Producer? {
            do {
                let configuration = try DaemonConfiguration.load(pipeline: pipeline)
                return try Producer(configuration: configuration.producerConfiguration())
            } catch {
                printError("consentinel: no Kafka producer for the Kafka channels: \(error)")
                return nil
            }
        }
    }
}
