import ArgumentParser
import Digests
import Foundation
import Processing
import Rules

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "The privacy notice, made from the rules a pipeline enforces.",
        subcommands: [Render.self, Diff.self])

    static func pipeline(_ directory: String) throws -> Pipeline {
        do {
            return try PipelineLoader().load(directory: directory)
        } catch {
            print(error.description)
            printError("consentinel: the pipeline in \(directory) has errors")
            throw ExitCode(2)
        }
    }

    static func language(_ code: String) throws -> Language {
        guard let language = Language(rawValue: code) else {
            throw ValidationError("unknown language '\(code)'; choose one of \(Language.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return language
    }

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the privacy notice: the data, purposes, consent, retention, sharing, staff access and erasure the rules enforce.")

        @Option(name: .long, help: "The pipeline folder.") var pipeline: String
        @Option(name: .long, help: "Language: \(Language.allCases.map(\.rawValue).joined(separator: ", ")).") var lang = "en"
        @Option(name: .long, help: "html, md or json.") var format = "html"
        @Option(name: [.short, .long], help: "Write to this file instead of standard output (-: standard output).") var output: String?

        func validate() throws {
            _ = try PolicyCommand.language(lang)
            if DigestFormat(rawValue: format) == nil {
                throw ValidationError("unknown format '\(format)'; choose one of \(DigestFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            let loaded = try PolicyCommand.pipeline(pipeline)
            let facts = PolicyFacts(pipeline: loaded)
            let renderer = DigestRenderer(language: try PolicyCommand.language(lang), context: DigestContext(pipeline: loaded))
            let text = switch DigestFormat(rawValue: format)! {
            case .html: renderer.policyHTML(facts)
            case .md: renderer.policyMarkdown(facts)
            case .json: facts.json.pretty() + "\n"
            }
            try writeOutput(text, to: output)
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say in plain words what changes for customers between two pipelines' notices.")

        @Argument(help: "The pipeline folder as it was.") var old: String
        @Argument(help: "The pipeline folder as it will be.") var new: String
        @Option(name: .long, help: "Language: \(Language.allCases.map(\.rawValue).joined(separator: ", ")).") var lang = "en"

        func validate() throws { _ = try PolicyCommand.language(lang) }

        func run() async throws {
            let language = try PolicyCommand.language(lang)
            let before = try PolicyCommand.pipeline(old), after = try PolicyCommand.pipeline(new)
            let changes = PolicyChanges(from: PolicyFacts(pipeline: before), to: PolicyFacts(pipeline: after), language: language,
                                        context: DigestContext(pipeline: after))
            print(changes.text(language), terminator: "")
        }
    }
}
