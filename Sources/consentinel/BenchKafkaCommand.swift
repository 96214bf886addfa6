import ArgumentParser
import Foundation
import Simulation

/// `consentinel bench kafka`: the daemon against raw librdkafka on the same topic of the embedded cluster, and the
/// latency from produce to sink at a steady rate.
struct BenchKafka: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Daemon messages/s against raw librdkafka on the same embedded topic, CPU per message, peak RSS, "
            + "and produce-to-sink latency at a steady rate.")

    @Option(help: "Messages in the generated topic.") var events = 300_000
    @Option(help: "Customers in the generated traffic.") var subjects = 50_000
    @Option(help: "Partitions of the topic.") var partitions = 16
    @Option(help: "The pipeline folder whose rules the daemon runs.") var pipeline = "pipelines/default"
    @Option(help: "Messages per second offered in the latency phase (0: skip it).") var rate = 10_000
    @Option(help: "How long the latency phase offers traffic, such as 10s or 1m, or a number of seconds.")
    var seconds = DurationArgument(seconds: 10)

    func validate() throws {
        guard events > 0, subjects > 0 else { throw ValidationError("--events and --subjects must be positive") }
        guard (1...256).contains(partitions) else { throw ValidationError("--partitions must be 1…256") }
        guard rate >= 0, seconds.seconds > 0 else { throw ValidationError("--rate must be ≥ 0 and --seconds positive") }
    }

    func run() async throws {
        let bench = KafkaBenchmark(
            options: .init(events: events, subjects: subjects, partitions: partitions, pipelineDirectory: pipeline,
                           rate: rate, latencySeconds: Int(seconds.seconds.rounded(.up))),
            output: { print($0) })
        try await bench.run()
    }
}

/// `consentinel bench consume` (hidden): the raw-librdkafka side of `bench kafka`, in its own process; prints one
/// JSON line with its figures.
struct BenchConsume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Read a topic with the daemon's consumer settings and nothing else.",
        shouldDisplay: false)

    @Option(help: "The pipeline folder whose sources.kafka settings are used.") var pipeline: String
    @Option(help: "The consumer group.") var group: String
    @Option(help: "Stop after this many messages.") var expect: Int

    func run() async throws {
        let drain = try await KafkaBenchmark.consume(pipeline: pipeline, group: group, expected: expect)
        print(String(decoding: try JSONEncoder().encode(drain), as: UTF8.self))
    }
}
