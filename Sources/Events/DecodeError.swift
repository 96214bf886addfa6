/// Why an event is invalid: the `reason` code of a dead letter (docs/events.md).
public struct DeadLetterReason: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Not JSON (RFC 8259, UTF-8), nested deeper than 64 levels, trailing bytes, or not an object.
    public static let invalidJSON = DeadLetterReason(rawValue: "invalid_json")
    /// A required field is absent or `null`.
    public static let missingField = DeadLetterReason(rawValue: "missing_field")
    /// A field has the wrong JSON type (a number where a string belongs, a list that is not of strings, …).
    public static let wrongType = DeadLetterReason(rawValue: "wrong_type")
    /// `type` is a string but not one of the eight event types.
    public static let unknownType = DeadLetterReason(rawValue: "unknown_type")
    /// `time` is a string but not an RFC 3339 date-time.
    public static let badTime = DeadLetterReason(rawValue: "bad_time")
    /// A category is not a key of the data-category taxonomy (or is `"*"` outside a `delete`).
    public static let unknownCategory = DeadLetterReason(rawValue: "unknown_category")
    /// `purpose` is not a key of the data-use taxonomy.
    public static let unknownPurpose = DeadLetterReason(rawValue: "unknown_purpose")
    /// A value of the right type out of range: a length, an empty string or list, a `status` spelling.
    public static let invalidValue = DeadLetterReason(rawValue: "invalid_value")

    public static let all: [DeadLetterReason] = [
        .invalidJSON, .missingField, .wrongType, .unknownType, .badTime, .unknownCategory, .unknownPurpose,
        .invalidValue,
    ]

    public var description: String { rawValue }
}

/// An invalid event: a reason code and one plain sentence that names the field (or the byte offset for
/// `invalid_json`).
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: DeadLetterReason
    public var message: String
    /// The event field at fault, when there is one (`categories`, `attributes.ticket`, …).
    public var field: String?

    public init(reason: DeadLetterReason, message: String, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}
