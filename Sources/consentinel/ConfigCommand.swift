import Alerts
import ArgumentParser
import Daemon
import Foundation
import Portal
import Rules

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a pipeline folder as `run` would read it.", subcommands: [Check.self])

    /// `config check` and `rules check` alike.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check a pipeline folder as `run` reads it: its rules and lists, and pipeline.yaml against its schema; print every fault with file:line:column.")

        @Argument(help: "The pipeline folder (or its pipeline.yaml).") var directory: String
        @Flag(name: .customLong("require-env"), help: "An unset ${VAR} without a default is an error, not a warning.")
        var requireEnvironment = false

        func run() async throws {
            try PipelineCheck.run(path: directory, requireEnvironment: requireEnvironment)
        }
    }
}

/// What `config check` and `rules check` do: the rules and lists, then `pipeline.yaml` against the schema of every
/// section, then (when that is clean and every variable is set) the daemon's own reading of it, which opens secret
/// files and checks values against each other. Exit 2 on any error; warnings alone exit 0.
enum PipelineCheck {
    static func run(path: String, requireEnvironment: Bool) throws {
        let directory: String
        do {
            directory = try Run.pipelineDirectory(config: path)
        } catch {
            printError("consentinel: \(error)")
            throw ExitCode(2)
        }
        let environment = ProcessInfo.processInfo.environment
        var errors: [RuleError] = []
        var pipeline: Pipeline?
        do {
            pipeline = try PipelineLoader().load(directory: directory)
        } catch {
            errors += error.errors
        }
        let settings = SettingsChecker(
            schema: DaemonConfiguration.schema, environment: environment, ruleIDs: pipeline.map { Set($0.rules.map(\.id)) },
            requireEnvironment: requireEnvironment
        ).check(directory: directory)
        // Where both find the same fault, the schema's finding (with its caret) stands.
        errors.removeAll { found in found.location != nil && settings.errors.contains { $0.location == found.location } }
        errors += settings.errors
        var skipped: String?
        if let pipeline {
            errors += AlertSettings.unknownRouteErrors(in: pipeline)
            if !errors.isEmpty {
                skipped = "the daemon's own reading of pipeline.yaml was skipped: fix the errors first"
            } else if !settings.warnings.isEmpty {
                skipped = "the daemon's own reading of pipeline.yaml (secret files, key lengths) was skipped: "
                    + "set the variables to check it too"
            } else {
                errors += daemonReading(pipeline, environment: environment)
            }
        }
        let findings = (errors + settings.warnings).enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (x?, y?) where x != y: x < y
            case (nil, _?): false
            case (_?, nil): true
            default: a.offset < b.offset
            }
        }.map(\.element)
        for finding in findings { print(finding.description) }
        if let skipped { printError("note: \(skipped)") }
        let w = settings.warnings.count
        let warnings = w == 0 ? "" : ", \(w) warning\(w == 1 ? "" : "s")"
        guard errors.isEmpty else {
            printError("\(errors.count) error\(errors.count == 1 ? "" : "s")\(warnings) in \(directory)")
            throw ExitCode(2)
        }
        print("\(directory): \(pipeline?.rules.count ?? 0) rules, \(pipeline?.lists.count ?? 0) lists: OK\(warnings)")
    }

    /// What `run` reads beyond the schema (secret files opened, key lengths, values against each other); a pipeline
    /// without `sources` (for replays) has its alert and portal sections read alone.
    static func daemonReading(_ pipeline: Pipeline, environment: [String: String]) -> [RuleError] {
        if pipeline.settings["sources"] != nil {
            do {
                _ = try DaemonConfiguration.load(pipeline: pipeline, environment: environment)
            } catch {
                return [RuleError(.schema, error.message)]
            }
            return []
        }
        var errors: [RuleError] = []
        do { _ = try AlertSettings.load(pipeline: pipeline, environment: environment) } catch {
            errors.append(RuleError(.schema, error.message))
        }
        do { _ = try PortalConfiguration.load(pipeline: pipeline, environment: environment) } catch {
            errors.append(RuleError(.schema, error.message))
        }
        return errors
    }
}
