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
}
