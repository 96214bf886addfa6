import ArgumentParser
import Portal

@main
struct Consentinel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consentinel",
        abstract: "Privacy-enforcement daemon: consent, retention, erasure and access rules on a stream of events.",
        subcommands: [DemoCommand.self, Run.self, Replay.self, RulesCommand.self, DigestCommand.self, PortalCommand.self, Gen.self, SelfTest.self, Bench.self]
    )
}
