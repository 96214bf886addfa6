import Events
import Foundation

/// Where a route's messages go. Delivery never throws: every attempt ends in an outcome.
public protocol AlertChannel: Sendable {
    func deliver(_ message: AlertMessage) async -> DeliveryOutcome
}

/// Appends each message as a JSON line (`AlertPayload.webhook`) to a file (`JSONLAppender`: `O_APPEND`, a torn last
/// line ended on open), synced before it counts as delivered. Several channels may share one file.
public final class JSONLAlertChannel: AlertChannel, @unchecked Sendable {
    public let path: String
    public let redaction: AlertRedaction
    private let lock = NSLock()
    private var appender: JSONLAppender?  // guarded by `lock`

    public init(path: String, redaction: AlertRedaction = .none) {
        self.path = path
        self.redaction = redaction
    }

    public func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        var line: [UInt8] = []
        AlertPayload.webhook(redaction.apply(message)).write(into: &line)
        return lock.withLock { append(line) }
    }

    /// Under `lock`.
    private func append(_ line: [UInt8]) -> DeliveryOutcome {
        do {
            let file = try appender ?? JSONLAppender(path: path)
            appender = file
            try file.append(line)
            try file.sync()
            return .delivered
        } catch {
            // Opened again at the next attempt (the file may have been moved or its folder removed).
            appender = nil
            return .retry(after: nil, reason: "\(error)")
        }
    }
}

/// Writes each message as a JSON line to standard error.
public struct StandardErrorAlertChannel: AlertChannel {
    public let redaction: AlertRedaction

    public init(redaction: AlertRedaction = .none) { self.redaction = redaction }

    public func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        var line: [UInt8] = []
        AlertPayload.webhook(redaction.apply(message)).write(into: &line)
        line.append(10)
        FileHandle.standardError.write(Data(line))
        return .delivered
    }
}
