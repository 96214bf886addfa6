import ArgumentParser

struct SelfTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "selftest", abstract: "Kafka round trip on an embedded mock cluster.")
    func run() async throws { throw ValidationError("not built yet") }
}
