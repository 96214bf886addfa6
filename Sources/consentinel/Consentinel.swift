import ArgumentParser
import Daemon
import Portal

@main
struct Consentinel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consentinel",
        abstract: "Privacy-enforcement daemon: consent, retention, erasure and access rules on a stream of events.",
        version: BuildInfo.description,
        subcommands: [DemoCommand.self, Run.self, Replay.self, RulesCommand.self, ConfigCommand.self, AlertsCommand.self, DigestCommand.self, AuditCommand.self, PolicyCommand.self, PortalCommand.self, Gen.self, SelfTest.self, Bench.self]
    )

    /// ArgumentParser's own `main`, after choosing the allocator's arena: glibc gives each thread an arena when it
    /// first allocates, so the choice must come before the concurrency runtime's threads start.
    static func main() async {
        MallocTuning.oneArena()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
