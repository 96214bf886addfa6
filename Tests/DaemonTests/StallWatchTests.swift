@testable import Daemon
import Logging
import Synchronization
import Testing

/// Log records kept in memory.
final class RecordingLogHandler: LogHandler, Sendable {
    let records = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        records.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
    }

    var warnings: [String] {
        records.withLock { $0.filter { $0.0 == .warning }.map { "\($0.1) \($0.2["stage"].map { "\($0)" } ?? "")" } }
    }
}

@Suite struct StallWatchTests {
    @Test func aStageThatLastsTooLongIsReportedAndWaitingIsNot() async throws {
        let handler = RecordingLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        let watch = StallWatch(service: "pipeline", threshold: .seconds(1))
        let watching = Task { await watch.watch(logger: logger) }
        defer { watching.cancel() }

        watch.enter("waiting for messages", idle: true)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(handler.warnings.isEmpty, "waiting is not a stall")

        watch.enter("committing a batch to the state store")
        try await waitUntil("the stall to be reported", timeout: .seconds(10)) { !handler.warnings.isEmpty }
        #expect(handler.warnings == ["pipeline stalled committing a batch to the state store"])

        // Reported once, not every second, while it lasts.
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(handler.warnings.count == 1)
    }
}
