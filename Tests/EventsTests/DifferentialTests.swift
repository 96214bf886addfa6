import Foundation
import Testing
@testable import Events

/// The fast decoder against a reference built on Foundation's `JSONSerialization` (test-only) plus a
/// straightforward re-implementation of the checks of docs/events.md, on generated events and random mutations of them.
///
/// "The same" means:
/// - both accept, and every field is equal: `id`, `subject`, attribute keys and values byte for byte (UTF-8);
///   `type`, `time`, `status`, `deletesAll`; symbols as symbols; purpose and categories as taxonomy nodes in order.
///   Attributes are compared as a key → value map, because `JSONSerialization` does not keep key order (their
///   order is tested on its own in DecoderTests); or
/// - both reject, with the same `DeadLetterReason` (the messages differ by design).
///
/// `JSONSerialization` departs from RFC 8259 in two ways the fast decoder does not follow, so the reference
/// corrects for them: it accepts trailing commas (`{"a":1,}`): the reference rejects those by a lexical check;
/// it rejects numbers outside `Double`'s range (`1e999`): such inputs are counted and skipped (very rare).
/// Its nesting limit (512) is above the decoder's (64); the generated inputs nest far less than either.
@Suite("EventDecoder against JSONSerialization")
struct DifferentialTests {
    enum Outcome: Equatable, CustomStringConvertible {
        case valid(Snapshot)
        case invalid(DeadLetterReason)
        var description: String {
            switch self {
            case .valid(let s): "valid \(s)"
            case .invalid(let r): "invalid \(r.rawValue)"
            }
        }
    }

    /// The comparable content of an event.
    struct Snapshot: Equatable {
        var id: [UInt8], type: EventType, time: Timestamp, subject: [UInt8]
        var actor: Symbol?, role: Symbol?, system: Symbol?, recipient: Symbol?, source: Symbol?
        var purpose: String?, categories: [String], deletesAll: Bool, status: ConsentStatus?
        var attributes: [[UInt8]: [UInt8]]

        init(_ e: Event) {
            id = Array(e.id.utf8); type = e.type; time = e.time; subject = Array(e.subject.utf8)
            actor = e.actor; role = e.role; system = e.system; recipient = e.recipient; source = e.source
            purpose = e.purpose?.key; categories = e.categories.map(\.key); deletesAll = e.deletesAll; status = e.status
            var map: [[UInt8]: [UInt8]] = [:]
            for a in e.attributes { map[Array(a.key.utf8)] = Array(a.value.utf8) }
            attributes = map
        }
    }

    static func fast(_ bytes: [UInt8]) -> Outcome {
        switch Fixtures.decoder.decode(bytes) {
        case .success(let e): .valid(Snapshot(e))
        case .failure(let e): .invalid(e.reason)
        }
    }

    // MARK: The reference

    struct Reject: Error { var reason: DeadLetterReason }

    static let categoryKeys: [[UInt8]: TaxonomyNode] = Dictionary(
        uniqueKeysWithValues: Fixtures.taxonomy.categories.nodes.map { (Array($0.key.utf8), $0) })
    static let useKeys: [[UInt8]: TaxonomyNode] = Dictionary(
        uniqueKeysWithValues: Fixtures.taxonomy.uses.nodes.map { (Array($0.key.utf8), $0) })

    /// nil when the input must be skipped (a number `JSONSerialization` cannot represent).
    static func reference(_ bytes: [UInt8]) -> Outcome? {
        if hasTrailingComma(bytes) { return .invalid(.invalidJSON) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            if "\(error)".contains("not representable") { return nil }
            return .invalid(.invalidJSON)
        }
        guard let dict = object as? [String: Any] else { return .invalid(.invalidJSON) }
        do {
            return .valid(try validate(dict))
        } catch {
            return .invalid(error.reason)
        }
    }

    /// A `,` followed (after whitespace) by `}` or `]`, outside strings.
    static func hasTrailingComma(_ b: [UInt8]) -> Bool {
        var inString = false, escape = false, lastComma = false
        for c in b {
            if inString {
                if escape { escape = false } else if c == 0x5C { escape = true } else if c == 0x22 { inString = false }
                continue
            }
            switch c {
            case 0x22: inString = true; lastComma = false
            case 0x2C: lastComma = true
            case 0x20, 0x09, 0x0A, 0x0D: break
            case 0x7D, 0x5D: if lastComma { return true }
            default: lastComma = false
            }
        }
        return false
    }

    enum Kind { case absent, null, string(String), other }

    static func kind(_ v: Any?) -> Kind {
        guard let v else { return .absent }
        if v is NSNull { return .null }
        if let s = v as? String { return .string(s) }
        return .other
    }

    static func string(_ d: [String: Any], _ key: String, required: Bool) throws(Reject) -> String? {
        switch kind(d[key]) {
        case .absent, .null: if required { throw Reject(reason: .missingField) } else { return nil }
        case .string(let s): return s
        case .other: throw Reject(reason: .wrongType)
        }
    }

    static func symbol(_ d: [String: Any], _ key: String, required: Bool) throws(Reject) -> String? {
        let s = try string(d, key, required: required)
        if s?.isEmpty == true { throw Reject(reason: .invalidValue) }
        return s
    }

    static func validate(_ d: [String: Any]) throws(Reject) -> Snapshot {
        let id = try string(d, "id", required: true)!
        guard (1...128).contains(id.unicodeScalars.count) else { throw Reject(reason: .invalidValue) }
        let typeName = try string(d, "type", required: true)!
        let timeText = try string(d, "time", required: true)!
        let subject = try string(d, "subject", required: true)!
        guard (1...256).contains(subject.unicodeScalars.count) else { throw Reject(reason: .invalidValue) }
        guard let type = EventType.allCases.first(where: { Array($0.name.utf8) == Array(typeName.utf8) }) else {
            throw Reject(reason: .unknownType)
        }
        guard let time = Timestamp(rfc3339: timeText) else { throw Reject(reason: .badTime) }
        let needs = Set(Fixtures.required[type.name]!)
        let actor = try symbol(d, "actor", required: needs.contains("actor"))
        let role = try symbol(d, "role", required: needs.contains("role"))
        let system = try symbol(d, "system", required: false)
        let purpose = try string(d, "purpose", required: needs.contains("purpose"))
        var categoryKeys: [String] = []
        switch d["categories"] {
        case nil, is NSNull:
            if needs.contains("categories") { throw Reject(reason: .missingField) }
        case let list as [Any]:
            for item in list {
                guard let s = item as? String, !(item is NSNull) else { throw Reject(reason: .wrongType) }
                categoryKeys.append(s)
            }
            if categoryKeys.isEmpty && needs.contains("categories") { throw Reject(reason: .invalidValue) }
        default:
            throw Reject(reason: .wrongType)
        }
        let recipient = try symbol(d, "recipient", required: needs.contains("recipient"))
        var status: ConsentStatus?
        if let s = try string(d, "status", required: needs.contains("status")) {
            switch Array(s.utf8) {
            case Array("granted".utf8): status = .granted
            case Array("withdrawn".utf8): status = .withdrawn
            default: throw Reject(reason: .invalidValue)
            }
        }
        let source = try symbol(d, "source", required: false)
        var attributes: [[UInt8]: [UInt8]] = [:]
        switch d["attributes"] {
        case nil, is NSNull: break
        case let map as [String: Any]:
            for (k, v) in map {
                guard case .string(let s) = kind(v) else { throw Reject(reason: .wrongType) }
                attributes[Array(k.utf8)] = Array(s.utf8)
            }
        default:
            throw Reject(reason: .wrongType)
        }
        var purposeNode: TaxonomyNode?
        if let purpose {
            guard let node = useKeys[Array(purpose.utf8)] else { throw Reject(reason: .unknownPurpose) }
            purposeNode = node
        }
        var categories: [String] = []
        var deletesAll = false
        for key in categoryKeys {
            if Array(key.utf8) == [0x2A] && type == .delete {
                deletesAll = true
            } else if let node = lookup(key), !categories.contains(node.key) {
                categories.append(node.key)
            } else if lookup(key) == nil {
                throw Reject(reason: .unknownCategory)
            }
        }
        func lookup(_ key: String) -> TaxonomyNode? { Self.categoryKeys[Array(key.utf8)] }

        var snapshot = Snapshot(Event(id: id, type: type, time: time, subject: subject))
        snapshot.actor = actor.map(Symbol.init)
        snapshot.role = role.map(Symbol.init)
        snapshot.system = system.map(Symbol.init)
        snapshot.recipient = recipient.map(Symbol.init)
        snapshot.source = source.map(Symbol.init)
        snapshot.purpose = purposeNode?.key
        snapshot.categories = categories
        snapshot.deletesAll = deletesAll
        snapshot.status = status
        snapshot.attributes = attributes
        return snapshot
    }

    // MARK: Inputs

    /// Field-level mutations: replace a field's value with another JSON value, or remove it.
    static let replacements = [
        "null", "1", "-0.5e3", "true", "[]", "{}", #""""#, #""*""#, #""x""#, #"["*"]"#, #"["user.contact","user"]"#,
        #"["user.nope"]"#, #"[1]"#, #"{"a":"b"}"#, #"{"a":1}"#, #""granted""#, #""withdrawn""#, #""marketing""#,
        #""marketing.nope""#, #""2024-02-30T00:00:00Z""#, #""2024-02-29T23:59:59.5-05:00""#, #""access""#,
        #""delete""#, #""consent""#, #""share""#, #""\u00e9\ud83d\ude00""#, "\"" + String(repeating: "é", count: 129) + "\"",
        "\"" + String(repeating: "x", count: 256) + "\"", #""a\"b""#,
    ]
    static let fields = ["id", "type", "time", "subject", "actor", "role", "system", "purpose", "categories",
                         "recipient", "status", "source", "attributes"]
    static let bytes = Array(#"{}[]:,"\ u0123456789aeflnrstu-+.E"#.utf8) + [0, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xED, 0xF0, 0xFF]

    static func mutate(_ json: String, _ rng: inout SampleEvents.RNG) -> [UInt8] {
        var text = json
        // One to three field-level changes, spliced in as text so key order and escapes stay the producer's.
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            let field = fields[Int(rng.next() % UInt64(fields.count))]
            let value = replacements[Int(rng.next() % UInt64(replacements.count))]
            switch rng.next() % 4 {
            case 0: // remove the field by shadowing it with null (last wins), or drop it outright when at the end
                text.removeLast()
                text += ",\"\(field)\":null}"
            default:
                text.removeLast()
                text += ",\"\(field)\":\(value)}"
            }
        }
        var out = Array(text.utf8)
        // Sometimes byte-level damage too.
        if rng.next() % 3 == 0 {
            for _ in 0..<(1 + Int(rng.next() % 2)) {
                let at = Int(rng.next() % UInt64(out.count))
                let b = bytes[Int(rng.next() % UInt64(bytes.count))]
                switch rng.next() % 3 {
                case 0: out[at] = b
                case 1: out.remove(at: at)
                default: out.insert(b, at: at)
                }
            }
        }
        return out
    }

    @Test("generated valid events decode the same", arguments: [1, 2, 3] as [UInt64])
    func generated(seed: UInt64) throws {
        var generator = SampleEvents(taxonomy: Fixtures.taxonomy, seed: seed)
        for _ in 0..<2_000 {
            let bytes = Array(generator.next().utf8)
            let expected = try #require(Self.reference(bytes))
            guard case .valid = expected else {
                Issue.record("the generator made an invalid event: \(expected) \(String(decoding: bytes, as: UTF8.self))")
                continue
            }
            #expect(Self.fast(bytes) == expected)
        }
    }

    @Test("mutated events: same result or same rejection", arguments: [11, 12, 13, 14] as [UInt64])
    func mutated(seed: UInt64) {
        var generator = SampleEvents(taxonomy: Fixtures.taxonomy, seed: seed)
        var rng = SampleEvents.RNG(seed: seed &* 7919)
        var skipped = 0
        var byReason: [String: Int] = [:]
        for _ in 0..<2_500 {
            let bytes = Self.mutate(generator.next(), &rng)
            guard let expected = Self.reference(bytes) else { skipped += 1; continue }
            let actual = Self.fast(bytes)
            #expect(actual == expected, "\(String(decoding: bytes, as: UTF8.self))")
            switch expected {
            case .valid: byReason["valid", default: 0] += 1
            case .invalid(let r): byReason[r.rawValue, default: 0] += 1
            }
        }
        #expect(skipped < 10)
        // The mutations reach every outcome.
        for r in DeadLetterReason.all.map(\.rawValue) + ["valid"] {
            #expect(byReason[r, default: 0] > 0, "no input gave \(r): \(byReason)")
        }
    }

    @Test("the reference's own corrections")
    func referenceCorrections() {
        #expect(Self.hasTrailingComma(Array(#"{"a":[1,],"b":"x,]"}"#.utf8)))
        #expect(!Self.hasTrailingComma(Array(#"{"a":[1],"b":"x,]"}"#.utf8)))
        #expect(Self.reference(Array(#"{"a":1e999}"#.utf8)) == nil)
        #expect(Self.fast(Array(eventJSON("collect", ["n": "1e999"]).utf8)) != .invalid(.invalidJSON))
    }
}
