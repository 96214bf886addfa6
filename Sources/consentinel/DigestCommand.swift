import ArgumentParser
import Digests
import Foundation
import Processing
import Rules

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest", abstract: "Work with the monthly transparency digests.", subcommands: [Render.self])

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a customer's monthly page or the organisation report as HTML, Markdown or the stored JSON.")

        @Option(name: .long, help: "The digests folder (the --digests of replay).") var digests: String
        @Option(name: .long, help: "The month, YYYY-MM.") var month: String
        @Option(name: .long, help: "The customer (subject) whose page to render.") var subject: String?
        @Flag(name: .long, help: "Render the organisation report instead.") var org = false
        @Option(name: .long, help: "Language: \(Language.allCases.map(\.rawValue).joined(separator: ", ")).") var lang = "en"
        @Option(name: .long, help: "html, md or json (the stored digest as is).") var format = "html"
        @Option(name: .long, help: "The pipeline folder: organisation, retention rules and consent purposes for the page.")
        var pipeline: String?
        @Option(name: [.short, .long], help: "Write to this file instead of standard output (-: standard output).") var output: String?

        func validate() throws {
            if (subject == nil) == !org { throw ValidationError("give either --subject SUBJECT or --org") }
            if Language(rawValue: lang) == nil {
                throw ValidationError("unknown language '\(lang)'; choose one of \(Language.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if DigestFormat(rawValue: format) == nil {
                throw ValidationError("unknown format '\(format)'; choose one of \(DigestFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            let context: DigestContext
            if let pipeline {
                do {
                    context = DigestContext(pipeline: try PipelineLoader().load(directory: pipeline))
                } catch {
                    printError("consentinel: the pipeline in \(pipeline) has errors:\n\(error)")
                    throw ExitCode(2)
                }
            } else {
                context = DigestContext()
            }
            let text: String
            do {
                text = try render(DigestRenderer(language: Language(rawValue: lang)!, context: context))
            } catch {
                printError("consentinel: \(error)")
                throw ExitCode(1)
            }
            try writeOutput(text, to: output)
        }

        private func render(_ renderer: DigestRenderer) throws(DigestError) -> String {
            let archive = DigestArchive(directory: digests)
            let format = DigestFormat(rawValue: format)!
            if let subject {
                switch format {
                case .json: return try archive.subjectLine(subject, month: month) + "\n"
                case .html: return renderer.subjectHTML(try archive.subject(subject, month: month))
                case .md: return renderer.subjectMarkdown(try archive.subject(subject, month: month))
                }
            }
            switch format {
            case .json: return try archive.orgText(month: month)
            case .html: return renderer.orgHTML(try archive.org(month: month))
            case .md: return renderer.orgMarkdown(try archive.org(month: month))
            }
        }
    }
}
