import Events
import Foundation
import Logging
import Synchronization

/// Structured logs: one JSON object a line on standard error, with the time, level, label, message and metadata.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    private static let lock = Mutex(())

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(level: event.level, message: event.message, extra: event.metadata)
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        write(level: level, message: message, extra: extra)
    }

    private func write(level: Logger.Level, message: Logger.Message, extra: Logger.Metadata?) {
        let now = Date().timeIntervalSince1970
        var pairs: [(String, JSONValue)] = [
            ("time", .string(Timestamp(microseconds: Int64(now * 1_000_000)).rfc3339)),
            ("level", .string(level.rawValue)), ("logger", .string(label)), ("message", .string(message.description)),
        ]
        let merged = metadata.merging(extra ?? [:]) { _, new in new }
        for key in merged.keys.sorted() { pairs.append((key, Self.json(merged[key]!))) }
        let text = JSONValue.object(pairs).serialized + "\n"
        Self.lock.withLock { _ in FileHandle.standardError.write(Data(text.utf8)) }
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let s): .string(s.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let d): .object(d.keys.sorted().map { ($0, json(d[$0]!)) })
        }
    }
}
