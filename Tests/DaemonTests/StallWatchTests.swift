@testable import Daemon
import Logging
import Synchronization
import Testing

/// Log records kept in memory.
final class RecordingLogHandler: LogHandler, Sendable {
    let records = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    /// When each warning arrived.
    let warningTimes = Mutex<[ContinuousClock.Instant]>([])
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
        if event.level == .warning { warningTimes.withLock { $0.append(.now) } }
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
        let watch = StallWatch(service: "pipeline", threshold: .seconds(1), repeatEvery: .seconds(2))
        let watching = Task { await watch.watch(logger: logger) }
        defer { watching.cancel() }

        watch.enter("waiting for messages", idle: true)
        #expect(watch.busy(at: .now + .seconds(3_600)) == nil, "waiting is not a stall, however long")

        watch.enter("committing a batch to the state store")
        try await waitUntil("the stall to be reported", timeout: .seconds(10)) { !handler.warnings.isEmpty }
        #expect(handler.warnings == ["pipeline stalled committing a batch to the state store"])

        // While it lasts it is reported again every `repeatEvery` (2 s), not at every check (1 s). The gap is taken
        // between the warnings' arrivals, not when this test noticed them: 1.5 s tells the two apart with room for a
        // busy machine's delays either way.
        try await waitUntil("the stall to be reported again", timeout: .seconds(10)) { handler.warnings.count >= 2 }
        let times = handler.warningTimes.withLock { $0 }
        #expect(times[1] - times[0] >= .milliseconds(1_500), "not before repeatEvery")
        #expect(handler.warnings.count == 2)
    }
}
