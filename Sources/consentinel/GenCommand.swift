import ArgumentParser
import Events
import Foundation
import Kafka
import Simulation

struct Gen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write realistic, deterministic event traffic as JSONL, or produce it to a Kafka topic (for demos, tests and benchmarks).")

    @Option(name: .long, help: "How many events.") var events: Int = 10_000
    @Option(name: .long, help: "How many customers.") var subjects: Int = 1_000
    @Option(name: .long, help: "Seed: the same seed gives the same file.") var seed: UInt64 = 1
    @Option(name: .long, help: "First event time (RFC 3339).") var start: String = "2026-01-01T00:00:00Z"
    @Option(name: .long, help: "How many months the events span.") var months: Int = 1
    @Option(name: .customLong("invalid-rate"), help: "Share of broken lines, 0…1.") var invalidRate: Double = 0.001
    @Option(name: .customLong("duplicate-rate"), help: "Share of events sent twice, 0…1.") var duplicateRate: Double = 0.001
    @Option(name: .long, help: "stress (every rule broken often: tests, benchmarks) or realistic (a company that mostly keeps its rules, with a few incidents).")
    var profile = EventGenerator.Profile.stress.rawValue
    @Option(name: [.short, .long], help: "Output file (default, or -: standard output).") var output: String?
    @Option(name: .long, help: "Produce to this Kafka topic instead of writing JSONL (keyed by subject, stamped with the event time).")
    var topic: String?
    @Option(name: .long, help: "With --topic: the bootstrap servers (host:port,…).") var bootstrap: String?
    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("With --topic: librdkafka properties.", valueName: "key=value"))
    var properties: [String] = []

    func validate() throws {
        guard events >= 0, subjects >= 1, months >= 1 else { throw ValidationError("events, subjects and months must be positive") }
        guard Timestamp(rfc3339: start) != nil else { throw ValidationError("--start must be an RFC 3339 time") }
        guard (0...1).contains(invalidRate), (0...1).contains(duplicateRate) else { throw ValidationError("rates are between 0 and 1") }
        if (topic == nil) != (bootstrap == nil) { throw ValidationError("--topic and --bootstrap go together") }
        if EventGenerator.Profile(rawValue: profile) == nil {
            throw ValidationError("unknown profile '\(profile)'; choose one of \(EventGenerator.Profile.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if topic != nil && output != nil { throw ValidationError("give --output or --topic, not both") }
        for p in properties where !p.contains("=") { throw ValidationError("--properties takes key=value, not '\(p)'") }
    }

    func run() async throws {
        let generator = EventGenerator(.init(
            events: events, subjects: subjects, seed: seed, start: Timestamp(rfc3339: start)!, months: months,
            invalidRate: invalidRate, duplicateRate: duplicateRate, profile: EventGenerator.Profile(rawValue: profile)!))
        if let topic, let bootstrap {
            try await produce(generator, topic: topic, bootstrap: bootstrap)
            return
        }
        let handle: FileHandle
        if let output, output != "-" {
            guard let h = OutputFile.open(output) else { throw ValidationError("cannot write \(output): \(OutputFile.reason)") }
            handle = h
        } else {
            handle = FileHandle.standardOutput
        }
        var buffer = Data()
        buffer.reserveCapacity(1 << 20)
        for line in generator {
            buffer.append(contentsOf: line.utf8)
            buffer.append(10)
            if buffer.count >= 1 << 20 {
                handle.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        handle.write(buffer)
        if output != nil && output != "-" { try handle.close() }
    }

    private func produce(_ generator: EventGenerator, topic: String, bootstrap: String) async throws {
        var config = ProducerConfiguration(bootstrapServers: [bootstrap])
        config.clientID = "consentinel-gen"
        config.linger = .milliseconds(20)
        config.properties = KafkaOptions.properties(properties)
        config.logHandler = KafkaOptions.logErrors
        let producer = try Producer(configuration: config)
        let started = ContinuousClock.now
        let sent: Int
        do {
            sent = try await TopicPublisher.publish(generator, topic: topic, producer: producer)
        } catch {
            await producer.shutdown(timeout: .seconds(5))
            printError("consentinel: producing to \(topic) at \(bootstrap): \(error)")
            throw ExitCode(1)
        }
        await producer.shutdown()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        printError("produced \(sent) events to \(topic) in \(String(format: "%.2f", seconds))s")
    }
}
