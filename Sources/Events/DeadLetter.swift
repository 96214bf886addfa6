/// An input that could not be processed, with why and where it came from (docs/schemas/dead-letter.schema.json).
public struct DeadLetter: Sendable {
    public static let rawLimit = 64 * 1024

    public var reason: String
    public var error: String
    public var origin: Origin
    public var raw: String

    public init(reason: String, error: String, origin: Origin, raw: UnsafeRawBufferPointer) {
        self.reason = reason
        self.error = error
        self.origin = origin
        self.raw = String(decoding: UnsafeRawBufferPointer(rebasing: raw.prefix(DeadLetter.rawLimit)), as: UTF8.self)
    }

    public init(_ error: DecodeError, origin: Origin, raw: UnsafeRawBufferPointer) {
        self.init(reason: error.reason.rawValue, error: error.message, origin: origin, raw: raw)
    }

    public var json: JSONValue {
        .object([("reason", .string(reason)), ("error", .string(error)), ("origin", origin.json), ("raw", .string(raw))])
    }
}

extension Origin {
    public var json: JSONValue {
        switch self {
        case let .kafka(topic, partition, offset):
            .object([("topic", .string(topic)), ("partition", .int(Int64(partition))), ("offset", .int(offset))])
        case let .file(path, line):
            .object([("file", .string(path)), ("line", .int(Int64(line)))])
        }
    }
}
