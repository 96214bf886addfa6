import Foundation

/// A webhook URL or routing key: its value is used for delivery only and never printed.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "***" }
    public var debugDescription: String { "***" }

    /// `text` with the secret's value (and, for a URL, its path and query) replaced, for errors and logs.
    public func redact(_ text: String) -> String {
        guard !value.isEmpty else { return text }
        return text.replacingOccurrences(of: value, with: description)
    }
}
