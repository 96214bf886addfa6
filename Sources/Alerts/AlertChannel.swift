import Events
import Foundation

/// Where a route's messages go. Delivery never throws: every attempt ends in an outcome.
public protocol AlertChannel: Sendable {
    func deliver(_ message: AlertMessage) async -> DeliveryOutcome
}

/// Appends each message as a JSON line (`AlertPayload.webhook`) to a file, synced before it counts as delivered.
public final class JSONLAlertChannel: AlertChannel {
    public let path: String
    private let lock = NSLock()

    public init(path: String) { self.path = path }

    public func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        var line: [UInt8] = []
        AlertPayload.webhook(message).write(into: &line)
        line.append(10)
        return lock.withLock {
            do {
                let url = URL(fileURLWithPath: path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                if !FileManager.default.fileExists(atPath: path) {
                    _ = FileManager.default.createFile(atPath: path, contents: nil)
                }
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(line))
                try handle.synchronize()
                return .delivered
            } catch {
                return .retry(after: nil, reason: "cannot append to \(path): \(error)")
            }
        }
    }
}

/// Writes each message as a JSON line to standard error.
public struct StandardErrorAlertChannel: AlertChannel {
    public init() {}

    public func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        var line: [UInt8] = []
        AlertPayload.webhook(message).write(into: &line)
        line.append(10)
        FileHandle.standardError.write(Data(line))
        return .delivered
    }
}
