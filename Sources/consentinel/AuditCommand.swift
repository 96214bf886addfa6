import ArgumentParser
import Digests
import Foundation
import Processing
import Rules

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The privacy office's audit of a month's weak points, from the organisation digests.",
        discussion: """
            Violations ranked by role, actor, system, rule and data category with the change since the month before, \
            what got worse, erasure requests by outcome (on time, late, open) with their ages, data kept past its time \
            by category, and sensitive data read without a ticket, by role.
            """)

    @Option(name: .long, help: "The digests folder (the --digests of replay, or the daemon's digest folder).") var digests: String
    @Option(name: .long, help: "The month, YYYY-MM.") var month: String
    @Option(name: .long, help: "html, md or json.") var format = "html"
    @Option(name: .long, help: "Language: \(Language.allCases.map(\.rawValue).joined(separator: ", ")).") var lang = "en"
    @Option(name: .long, help: "The pipeline folder: the organisation's name and the rules' and roles' wording.")
    var pipeline: String?
    @Option(name: [.short, .long], help: "Write to this file instead of standard output (-: standard output).") var output: String?

    func validate() throws {
        if Language(rawValue: lang) == nil {
            throw ValidationError("unknown language '\(lang)'; choose one of \(Language.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if DigestFormat(rawValue: format) == nil {
            throw ValidationError("unknown format '\(format)'; choose one of \(DigestFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        var context = DigestContext()
        if let pipeline {
            do {
                context = DigestContext(pipeline: try PipelineLoader().load(directory: pipeline))
            } catch {
                printError("consentinel: the pipeline in \(pipeline) has errors:\n\(error)")
                throw ExitCode(2)
            }
        }
        let audit: Audit
        do {
            audit = try DigestArchive(directory: digests).audit(month: month)
        } catch {
            printError("consentinel: \(error)")
            throw ExitCode(1)
        }
        let renderer = DigestRenderer(language: Language(rawValue: lang)!, context: context)
        let text = switch DigestFormat(rawValue: format)! {
        case .json: audit.json.pretty() + "\n"
        case .html: renderer.auditHTML(audit)
        case .md: renderer.auditMarkdown(audit)
        }
        try writeOutput(text, to: output)
    }
}
