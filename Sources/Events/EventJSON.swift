extension Event {
    /// The event as JSON (docs/schemas/event.schema.json), which `EventDecoder` reads back to an equal event.
    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(id)), ("type", .string(type.name)), ("time", .string(time.rfc3339)), ("subject", .string(subject)),
        ]
        if let actor { pairs.append(("actor", .string(actor.string))) }
        if let role { pairs.append(("role", .string(role.string))) }
        if let system { pairs.append(("system", .string(system.string))) }
        if let purpose { pairs.append(("purpose", .string(purpose.key))) }
        if deletesAll {
            pairs.append(("categories", ["*"]))
        } else if !categories.isEmpty {
            pairs.append(("categories", .array(categories.map { .string($0.key) })))
        }
        if let recipient { pairs.append(("recipient", .string(recipient.string))) }
        if let status { pairs.append(("status", .string(status.description))) }
        if let source { pairs.append(("source", .string(source.string))) }
        if !attributes.isEmpty { pairs.append(("attributes", .object(attributes.map { ($0.key, .string($0.value)) }))) }
        return .object(pairs)
    }
}

extension Timestamp: Codable {
    public init(from decoder: any Decoder) throws {
        microseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(microseconds)
    }
}
