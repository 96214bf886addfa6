import ArgumentParser

@main
struct Consentinel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consentinel",
        abstract: "Privacy-enforcement daemon: consent, retention, erasure and access rules on a stream of events.",
        subcommands: [Replay.self, RulesCommand.self, Gen.self, SelfTest.self, Bench.self, DigestCommand.self]
    )
}
