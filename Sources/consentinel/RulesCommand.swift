import ArgumentParser
import Foundation
import Replay
import Rules

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Check a pipeline's rules, or run its test cases.",
        subcommands: [ConfigCommand.Check.self, TestCases.self])

    struct TestCases: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test", abstract: "Run a pipeline's cases in DIR/tests/<case>/{events,expected}.jsonl.")

        @Argument(help: "The pipeline folder.") var directory: String

        func run() async throws {
            let pipeline: Pipeline
            do {
                pipeline = try PipelineLoader().load(directory: directory)
            } catch {
                print(error.description)
                throw ExitCode(2)
            }
            let cases = RuleCase.cases(in: (directory as NSString).appendingPathComponent("tests"))
            guard !cases.isEmpty else {
                printError("no test cases in \(directory)/tests")
                throw ExitCode(1)
            }
            var failed = 0
            for c in cases {
                let outcome = c.run(pipeline: pipeline)
                if outcome.passed {
                    print("PASS \(c.name)")
                } else {
                    failed += 1
                    print("FAIL \(c.name)")
                    for f in outcome.failures { print("  \(f)") }
                }
            }
            print("\(cases.count - failed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
