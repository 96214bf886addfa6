import ArgumentParser
import Events
import Foundation
import Portal
import Rules

struct PortalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portal", abstract: "The customer portal of the daemon's HTTP server.", subcommands: [Link.self])

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prints a signed link to a customer's page for one month (for an email).")

        @Option(name: .long, help: "The pipeline's pipeline.yaml, or its folder (its `portal` section holds the secret).")
        var config: String

        @Option(name: .long, help: "The customer (the events' `subject`).")
        var subject: String

        @Option(name: .long, help: "The month, YYYY-MM.")
        var month: String

        @Option(name: .long, help: "How long the link works, such as 30d or 72h (default: the portal's link_ttl).")
        var ttl: DurationArgument?

        func validate() throws {
            if let ttl, ttl.value.microseconds <= 0 { throw ValidationError("--ttl must be a duration such as 30d") }
        }

        func run() async throws {
            let directory = try Run.pipelineDirectory(config: config)
            let lifetime = ttl?.value
            let pipeline: Pipeline
            do {
                pipeline = try PipelineLoader().load(directory: directory)
            } catch {
                printError("consentinel: the pipeline in \(directory) has errors:\n\(error)")
                throw ExitCode(2)
            }
            do {
                guard let portal = try PortalConfiguration.load(pipeline: pipeline) else {
                    printError("consentinel: \(config) has no portal section")
                    throw ExitCode(1)
                }
                print(try Portal.link(configuration: portal, subject: subject, month: month, ttl: lifetime))
            } catch let error as PortalError {
                if error.code == .arguments, error.message.hasPrefix("the month") || error.message.hasPrefix("a subject") {
                    throw ValidationError(error.message)
                }
                printError("consentinel: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
