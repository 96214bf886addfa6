import Events

/// A broken rule, as docs/schemas/violation.schema.json describes it.
public struct Violation: Sendable, Hashable {
    public var id: String
    public var rule: String
    public var kind: RuleKind
    public var reason: String
    public var severity: Severity
    public var time: Timestamp
    public var subject: String
    public var actor: String?
    public var event: String
    public var detectedAt: Timestamp
    public var message: String
    public var evidence: JSONValue
    /// Tags and alert routes of the rule, for routing; not part of the JSON.
    public var tags: [String] = []
    public var alert: [String] = []

    public static func == (a: Violation, b: Violation) -> Bool { a.json == b.json }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(id)), ("rule", .string(rule)), ("kind", .string(kind.rawValue)), ("reason", .string(reason)),
            ("severity", .string(severity.name)), ("time", .string(time.rfc3339)), ("subject", .string(subject)),
        ]
        if let actor { pairs.append(("actor", .string(actor))) }
        pairs += [
            ("event", .string(event)), ("detected_at", .string(detectedAt.rfc3339)), ("message", .string(message)),
            ("evidence", evidence),
        ]
        return .object(pairs)
    }

    /// The bytes of `json.serialized`, without building the tree.
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(into: &out)
        return out
    }

    /// Appends the bytes of `json.serialized`, without building the tree.
    public func write(into out: inout [UInt8]) {
        func field(_ name: StaticString, _ value: String, first: Bool = false) {
            out.append(first ? 123 : 44)
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            JSONValue.writeString(value, into: &out)
        }
        field("\"id\":", id, first: true)
        field("\"rule\":", rule)
        field("\"kind\":", kind.rawValue)
        field("\"reason\":", reason)
        field("\"severity\":", severity.name)
        field("\"time\":", time.rfc3339)
        field("\"subject\":", subject)
        if let actor { field("\"actor\":", actor) }
        field("\"event\":", event)
        field("\"detected_at\":", detectedAt.rfc3339)
        field("\"message\":", message)
        (",\"evidence\":" as StaticString).withUTF8Buffer { out.append(contentsOf: $0) }
        evidence.write(into: &out)
        out.append(125)
    }
}

extension Violation: CustomStringConvertible {
    public var description: String { json.serialized }
}

/// Deterministic violation ids: 128 bits of two FNV-1a hashes over the identifying parts, as hex.
enum ViolationID {
    /// The id of the parts `rule`, `reason`, then `parts`, each followed by a 0x1f separator.
    static func make(_ rule: String, _ reason: String, _ parts: [String]) -> String {
        var hash = Hash()
        hash.add(rule)
        hash.add(reason)
        for part in parts { hash.add(part) }
        return hash.hex
    }

    private struct Hash {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142

        mutating func add(_ part: String) {
            for byte in part.utf8 {
                a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
                b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
                b = b ^ (b >> 29)
            }
            a = (a ^ 0x1f) &* 0x0000_0100_0000_01b3
            b = (b ^ 0x1f) &* 0x0000_0100_0000_01b3
        }

        /// `a` then `b`, each as 16 lower-case hex digits.
        var hex: String {
            String(unsafeUninitializedCapacity: 32) { buffer in
                func put(_ value: UInt64, at offset: Int) {
                    for k in 0..<16 {
                        let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * k)) & 0xf
                        buffer[offset + k] = nibble < 10 ? 48 + nibble : 87 + nibble
                    }
                }
                put(a, at: 0)
                put(b, at: 16)
                return 32
            }
        }
    }
}
