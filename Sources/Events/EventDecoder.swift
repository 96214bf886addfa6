/// Decodes and validates one event (docs/events.md) from raw JSON bytes.
///
/// Written by hand for speed (it is the hot path of the daemon): one pass over the bytes checks the whole JSON
/// text (`JSONScanner`) and remembers where the known fields' values are; a second step validates them in a
/// fixed order and builds the `Event`. Keys are matched as bytes, taxonomy keys are looked up as bytes, and
/// symbols already interned are found as bytes, so a typical event allocates only its `id`, `subject`,
/// category list and attributes. Foundation is not used.
///
/// Checks, in order (the first failure is the reason):
/// 1. JSON syntax of the whole input (`invalid_json`), and that it is an object.
/// 2. `id`, `type`, `time`, `subject`: present and not null (`missing_field`), strings (`wrong_type`);
///    `id` 1–128 and `subject` 1–256 characters (Unicode scalars) (`invalid_value`).
/// 3. `type` is one of the eight types (`unknown_type`); 4. `time` parses as RFC 3339 (`bad_time`).
/// 5. The other fields in the order of docs/events.md (actor, role, system, purpose, categories, recipient, status,
///    source, attributes): required ones present (`missing_field`), every present one of the right type
///    (`wrong_type`) and value (`invalid_value`).
/// 6. Taxonomy: `purpose` (`unknown_purpose`), then each category in order (`unknown_category`).
///
/// An optional field given as `null` counts as absent. Unknown fields are checked as JSON and ignored. When a
/// key appears twice the last value counts.
public struct EventDecoder: Sendable {
    public let taxonomy: Taxonomy

    public init(taxonomy: Taxonomy) {
        self.taxonomy = taxonomy
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<Event, DecodeError> {
        do {
            return .success(try decodeEvent(bytes))
        } catch {
            return .failure(error)
        }
    }

    public func decode(_ bytes: [UInt8]) -> Result<Event, DecodeError> {
        bytes.withUnsafeBytes { decode($0) }
    }

    public func decode(_ line: String) -> Result<Event, DecodeError> {
        var line = line
        return line.withUTF8 { decode(UnsafeRawBufferPointer($0)) }
    }

    /// The throwing form of `decode`.
    public func decodeEvent(_ b: UnsafeRawBufferPointer) throws(DecodeError) -> Event {
        var slots = Slots()
        do throws(JSONSyntaxError) {
            try scan(b, into: &slots)
        } catch {
            if error.notAnObject {
                throw DecodeError(reason: .invalidJSON, message: "The event is not a JSON object: \(error.message).")
            }
            throw DecodeError(reason: .invalidJSON,
                              message: "The event is not valid JSON: \(error.message) at byte \(error.offset).")
        }
        return try validate(JSONScanner(b), slots)
    }

    // MARK: Pass 1: syntax, and where the known fields are

    private func scan(_ b: UnsafeRawBufferPointer, into slots: inout Slots) throws(JSONSyntaxError) {
        var s = JSONScanner(b)
        if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { s.i = 3 } // a UTF-8 byte-order mark
        s.skipWhitespace()
        guard s.peek == 0x7B else {
            var e = s.atEnd ? s.fail("the input is empty") : s.fail("it starts with %b", byte: b[s.i])
            e.notAnObject = true
            throw e
        }
        // The top-level members by hand rather than through `walkContainer`: this loop is the hottest code of
        // the decoder, and the closure costs it about 8% more instructions.
        s.i += 1
        s.skipWhitespace()
        if !s.consume(0x7D) {
            while true {
                guard s.peek == 0x22 else { throw s.unexpected("a string key") }
                let key = try s.scanString()
                s.skipWhitespace()
                guard s.consume(0x3A) else { throw s.unexpected("':'") }
                s.skipWhitespace()
                try member(&s, key, &slots)
                s.skipWhitespace()
                if s.consume(0x2C) { s.skipWhitespace(); continue }
                if s.consume(0x7D) { break }
                throw s.unexpected("',' or '}'")
            }
        }
        s.skipWhitespace()
        guard s.atEnd else { throw s.fail("unexpected %b after the object", byte: b[s.i]) }
    }

    /// One member of the event object: remembers where a known field's value is, skips an unknown one.
    @inline(__always)
    private func member(_ s: inout JSONScanner, _ key: JSONString, _ slots: inout Slots) throws(JSONSyntaxError) {
        guard let field = key.escaped ? s.withValue(key, Field.init(bytes:)) : Field(bytes: s.raw(key)) else {
            _ = try s.skipValue(depth: 1)
            return
        }
        let start = s.i
        if s.peek == 0x22 {
            slots.set(field, Slot(kind: .string, value: try s.scanString()))
        } else if field == .categories && s.peek == 0x5B {
            slots.categoryList = try captureCategories(&s)
            slots.set(field, Slot(kind: .array))
        } else if field == .attributes && s.peek == 0x7B {
            slots.attributeList = try captureAttributes(&s)
            slots.set(field, Slot(kind: .object))
        } else {
            let kind = try s.skipValue(depth: 1)
            slots.set(field, Slot(kind: kind, value: JSONString(start: start, end: s.i, escaped: false, ascii: true)))
        }
    }

    // MARK: Pass 2: validation in the documented order

    private func validate(_ s: JSONScanner, _ slots: Slots) throws(DecodeError) -> Event {
        // 2. The fields every event has.
        let idValue = try string(slots.id, .id, required: true)!
        try checkLength(s, idValue, .id, max: 128)
        let typeValue = try string(slots.type, .type, required: true)!
        let timeValue = try string(slots.time, .time, required: true)!
        let subjectValue = try string(slots.subject, .subject, required: true)!
        try checkLength(s, subjectValue, .subject, max: 256)

        // 3, 4.
        guard let type = s.withValue(typeValue, EventType.init(bytes:)) else {
            throw DecodeError(reason: .unknownType,
                              message: "The field 'type' has the unknown event type \(quoted(s, typeValue)).", field: "type")
        }
        guard let time = s.withValue(timeValue, RFC3339.parse) else {
            throw DecodeError(reason: .badTime,
                              message: "The field 'time' is not an RFC 3339 date-time: \(quoted(s, timeValue)).", field: "time")
        }

        // 5. The other fields.
        let actor = try symbol(s, slots.actor, .actor, requiredFor: type, type.needsActor)
        let role = try symbol(s, slots.role, .role, requiredFor: type, type == .access)
        let system = try symbol(s, slots.system, .system, requiredFor: type, false)
        let purposeValue = try string(slots.purpose, .purpose, required: type.needsPurpose, type: type)
        let (categories, deletesAll, unknownCategory) = try self.categories(s, slots, type: type)
        let recipient = try symbol(s, slots.recipient, .recipient, requiredFor: type, type == .share)
        let status = try consentStatus(s, slots.status, type: type)
        let source = try symbol(s, slots.source, .source, requiredFor: type, false)
        let attributes = try self.attributes(slots)

        // 6. Taxonomy.
        var purpose: TaxonomyNode?
        if let purposeValue {
            purpose = s.withValue(purposeValue) { taxonomy.uses.node(bytes: $0) }
            if purpose == nil {
                throw DecodeError(reason: .unknownPurpose,
                                  message: "The purpose \(quoted(s, purposeValue)) is not a data use of the taxonomy.",
                                  field: "purpose")
            }
        }
        if let unknownCategory { throw unknownCategory }

        var actorSymbol: Symbol?, roleSymbol: Symbol?, systemSymbol: Symbol?, recipientSymbol: Symbol?
        var sourceSymbol: Symbol?
        if actor?.escaped != true && role?.escaped != true && system?.escaped != true && recipient?.escaped != true
            && source?.escaped != true {
            SymbolTable.shared.intern(actor.map(s.raw), role.map(s.raw), system.map(s.raw), recipient.map(s.raw),
                                      source.map(s.raw), into: &actorSymbol, &roleSymbol, &systemSymbol,
                                      &recipientSymbol, &sourceSymbol)
        } else {
            actorSymbol = actor.map { intern(s, $0) }
            roleSymbol = role.map { intern(s, $0) }
            systemSymbol = system.map { intern(s, $0) }
            recipientSymbol = recipient.map { intern(s, $0) }
            sourceSymbol = source.map { intern(s, $0) }
        }
        return Event(
            id: s.string(idValue), type: type, time: time, subject: s.string(subjectValue),
            actor: actorSymbol, role: roleSymbol, system: systemSymbol, purpose: purpose, categories: categories,
            deletesAll: deletesAll, recipient: recipientSymbol, status: status, source: sourceSymbol,
            attributes: attributes
        )
    }

    /// A string field: nil when absent or null and not required.
    @inline(__always)
    private func string(_ slot: Slot, _ field: Field, required: Bool, type: EventType? = nil) throws(DecodeError) -> JSONString? {
        switch slot.kind {
        case .string?:
            return slot.value
        case nil, .null?:
            guard required else { return nil }
            let how = slot.kind == nil ? "missing" : "null"
            let message = type.map { "The field '\(field.name)' is required for a '\($0.name)' event and is \(how)." }
                ?? "The field '\(field.name)' is \(how)."
            throw DecodeError(reason: .missingField, message: message, field: field.name)
        case let kind?:
            throw DecodeError(reason: .wrongType,
                              message: "The field '\(field.name)' must be a string, not \(kind.phrase).", field: field.name)
        }
    }

    private func checkLength(_ s: JSONScanner, _ value: JSONString, _ field: Field, max: Int) throws(DecodeError) {
        let count = value.ascii && !value.escaped ? value.rawCount : s.withValue(value, scalarCount)
        guard count >= 1 && count <= max else {
            throw DecodeError(reason: .invalidValue,
                              message: "The field '\(field.name)' must be 1 to \(max) characters long, not \(count).",
                              field: field.name)
        }
    }

    /// A symbol-valued field, checked but not yet interned (an invalid event interns nothing).
    @inline(__always)
    private func symbol(_ s: JSONScanner, _ slot: Slot, _ field: Field, requiredFor type: EventType, _ required: Bool)
        throws(DecodeError) -> JSONString? {
        guard let value = try string(slot, field, required: required, type: type) else { return nil }
        guard value.rawCount > 0 else {
            throw DecodeError(reason: .invalidValue, message: "The field '\(field.name)' must not be empty.", field: field.name)
        }
        return value
    }

    @inline(__always)
    private func intern(_ s: JSONScanner, _ value: JSONString) -> Symbol {
        s.withValue(value) { Symbol.intern($0) }
    }

    private func consentStatus(_ s: JSONScanner, _ slot: Slot, type: EventType) throws(DecodeError) -> ConsentStatus? {
        guard let value = try string(slot, .status, required: type == .consent, type: type) else { return nil }
        guard let status = s.withValue(value, ConsentStatus.init(bytes:)) else {
            throw DecodeError(reason: .invalidValue,
                              message: "The field 'status' must be 'granted' or 'withdrawn', not \(quoted(s, value)).",
                              field: "status")
        }
        return status
    }

    /// `categories` as found by the syntax pass, resolved against the taxonomy but not yet judged: whether an
    /// item is an error depends on the event type, and reasons are reported in a fixed order after the whole scan.
    struct CategoryList {
        var nodes: [TaxonomyNode] = []
        var count = 0
        /// Index of the first `"*"`, of the first key not in the taxonomy, of the first item not a string; -1: none.
        var firstStar = -1, firstUnknown = -1, firstWrong = -1
        var unknownValue = JSONString(start: 0, end: 0, escaped: false, ascii: true)
        var wrongKind = JSONKind.null
    }

    /// `attributes` as found by the syntax pass: the pairs, or the first key whose value is not a string.
    struct AttributeList {
        var pairs: [Event.Attribute] = []
        var wrongKey: String?
        var wrongKind = JSONKind.null
    }

    /// Scans the list at `[` (depth 2), checking its syntax and resolving its strings as category keys.
    private func captureCategories(_ s: inout JSONScanner) throws(JSONSyntaxError) -> CategoryList {
        var list = CategoryList()
        try s.walkContainer(object: false, depth: 2) { (s: inout JSONScanner, _: JSONString) throws(JSONSyntaxError) in
            let index = list.count
            list.count += 1
            guard s.peek == 0x22 else {
                let kind = try s.skipValue(depth: 2)
                if list.firstWrong < 0 { (list.firstWrong, list.wrongKind) = (index, kind) }
                return
            }
            let value = try s.scanString()
            let (node, star): (TaxonomyNode?, Bool) = s.withValue(value) { bytes in
                if bytes.count == 1 && bytes[0] == 0x2A { return (nil, true) }
                return (taxonomy.categories.node(bytes: bytes), false)
            }
            if let node {
                if list.nodes.isEmpty { list.nodes.reserveCapacity(4) }
                if !list.nodes.contains(node) { list.nodes.append(node) }
            } else if star {
                if list.firstStar < 0 { list.firstStar = index }
            } else if list.firstUnknown < 0 {
                (list.firstUnknown, list.unknownValue) = (index, value)
            }
        }
        return list
    }

    /// Scans the object at `{` (depth 2), checking its syntax and collecting string pairs (the position of a
    /// key's first appearance, its last value); stops collecting at the first value that is not a string.
    private func captureAttributes(_ s: inout JSONScanner) throws(JSONSyntaxError) -> AttributeList {
        var list = AttributeList()
        try s.walkContainer(object: true, depth: 2) { (s: inout JSONScanner, key: JSONString) throws(JSONSyntaxError) in
            guard s.peek == 0x22 else {
                let kind = try s.skipValue(depth: 2)
                if list.wrongKey == nil { (list.wrongKey, list.wrongKind) = (s.string(key), kind) }
                return
            }
            let value = try s.scanString()
            guard list.wrongKey == nil else { return }
            let attribute = Event.Attribute(key: s.string(key), value: s.string(value))
            if list.pairs.isEmpty { list.pairs.reserveCapacity(4) }
            if let k = list.pairs.firstIndex(where: { $0.key == attribute.key }) {
                list.pairs[k] = attribute
            } else {
                list.pairs.append(attribute)
            }
        }
        return list
    }

    /// `categories`: a list of strings, non-empty where the type requires it. An unknown key is returned, not
    /// thrown, because taxonomy checks come last.
    private func categories(_ s: JSONScanner, _ slots: Slots, type: EventType) throws(DecodeError)
        -> (nodes: [TaxonomyNode], deletesAll: Bool, unknown: DecodeError?) {
        let slot = slots.categories
        let required = type.needsCategories
        switch slot.kind {
        case .array?:
            break
        case nil, .null?:
            guard required else { return ([], false, nil) }
            throw DecodeError(reason: .missingField,
                              message: "The field 'categories' is required for a '\(type.name)' event and is \(slot.kind == nil ? "missing" : "null").",
                              field: "categories")
        case let kind?:
            throw DecodeError(reason: .wrongType,
                              message: "The field 'categories' must be a list of strings, not \(kind.phrase).", field: "categories")
        }
        let list = slots.categoryList
        if list.firstWrong >= 0 {
            throw DecodeError(reason: .wrongType,
                              message: "The field 'categories' must be a list of strings, but item \(list.firstWrong + 1) is \(list.wrongKind.phrase).",
                              field: "categories")
        }
        if list.count == 0 && required {
            throw DecodeError(reason: .invalidValue,
                              message: "The field 'categories' must not be empty for a '\(type.name)' event.", field: "categories")
        }
        let starIsError = list.firstStar >= 0 && type != .delete
        var unknown: DecodeError?
        if starIsError && (list.firstUnknown < 0 || list.firstStar < list.firstUnknown) {
            unknown = DecodeError(
                reason: .unknownCategory,
                message: "The category '*' (all data) is allowed only in a 'delete' event, not in a '\(type.name)' event.",
                field: "categories")
        } else if list.firstUnknown >= 0 {
            unknown = DecodeError(
                reason: .unknownCategory,
                message: "The category \(quoted(s, list.unknownValue)) is not a data category of the taxonomy.",
                field: "categories")
        }
        return (list.nodes, list.firstStar >= 0 && type == .delete, unknown)
    }

    /// `attributes`: an object of string to string.
    private func attributes(_ slots: Slots) throws(DecodeError) -> [Event.Attribute] {
        switch slots.attributes.kind {
        case .object?:
            break
        case nil, .null?:
            return []
        case let kind?:
            throw DecodeError(reason: .wrongType,
                              message: "The field 'attributes' must be an object of strings, not \(kind.phrase).",
                              field: "attributes")
        }
        let list = slots.attributeList
        if let key = list.wrongKey {
            throw DecodeError(reason: .wrongType,
                              message: "The attribute '\(EventDecoder.shorten(key))' in the field 'attributes' must be a string, not \(list.wrongKind.phrase).",
                              field: "attributes." + key)
        }
        return list.pairs
    }

    // MARK: Message helpers

    private func quoted(_ s: JSONScanner, _ value: JSONString) -> String {
        "'" + EventDecoder.shorten(s.string(value)) + "'"
    }

    /// At most 64 characters of a value, for messages.
    static func shorten(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > 64 else { return text }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars.prefix(63))
        return String(out) + "…"
    }
}

@inline(__always)
private func scalarCount(_ p: UnsafeRawBufferPointer) -> Int {
    var count = 0
    for byte in p where byte & 0xC0 != 0x80 { count += 1 }
    return count
}

@inline(__always)
private func equals(_ p: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    let n = literal.utf8CodeUnitCount
    guard p.count == n else { return false }
    let q = UnsafeRawPointer(literal.utf8Start)
    // Two overlapping loads cover 2…16 bytes without a loop or reading past either end.
    switch n {
    case 0: return true
    case 1: return p[0] == q.load(as: UInt8.self)
    case 2, 3:
        return p.loadUnaligned(as: UInt16.self) == q.loadUnaligned(as: UInt16.self)
            && p.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self) == q.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self)
    case 4...7:
        return p.loadUnaligned(as: UInt32.self) == q.loadUnaligned(as: UInt32.self)
            && p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == q.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
    case 8...16:
        return p.loadUnaligned(as: UInt64.self) == q.loadUnaligned(as: UInt64.self)
            && p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == q.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    default:
        for k in 0..<n where p[k] != q.load(fromByteOffset: k, as: UInt8.self) { return false }
        return true
    }
}

extension JSONScanner {
    /// The raw bytes of a string's content.
    @inline(__always)
    func raw(_ s: JSONString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: b[s.start..<s.end])
    }
}

/// The fields the decoder knows.
enum Field: UInt8 {
    case id, type, time, subject, actor, role, system, purpose, categories, recipient, status, source, attributes

    var name: String {
        switch self {
        case .id: "id"
        case .type: "type"
        case .time: "time"
        case .subject: "subject"
        case .actor: "actor"
        case .role: "role"
        case .system: "system"
        case .purpose: "purpose"
        case .categories: "categories"
        case .recipient: "recipient"
        case .status: "status"
        case .source: "source"
        case .attributes: "attributes"
        }
    }

    /// Matches a key by its bytes: by length, then by bytes.
    @inline(__always)
    init?(bytes p: UnsafeRawBufferPointer) {
        switch p.count {
        case 2: if equals(p, "id") { self = .id; return }
        case 4:
            switch p[0] {
            case 0x74: // t
                if equals(p, "type") { self = .type; return }
                if equals(p, "time") { self = .time; return }
            case 0x72: if equals(p, "role") { self = .role; return }
            default: break
            }
        case 5: if equals(p, "actor") { self = .actor; return }
        case 6:
            switch p[1] {
            case 0x79: if equals(p, "system") { self = .system; return }
            case 0x74: if equals(p, "status") { self = .status; return }
            case 0x6F: if equals(p, "source") { self = .source; return }
            default: break
            }
        case 7:
            if equals(p, "subject") { self = .subject; return }
            if equals(p, "purpose") { self = .purpose; return }
        case 9: if equals(p, "recipient") { self = .recipient; return }
        case 10:
            if equals(p, "categories") { self = .categories; return }
            if equals(p, "attributes") { self = .attributes; return }
        default: break
        }
        return nil
    }
}

/// Where a known field's value is: `kind` nil when absent; `value` the string span, or for other kinds
/// `value.start` the offset of the value.
struct Slot {
    var kind: JSONKind?
    var value: JSONString

    init(kind: JSONKind? = nil, value: JSONString = JSONString(start: 0, end: 0, escaped: false, ascii: true)) {
        self.kind = kind
        self.value = value
    }
}

/// One slot per known field, on the stack.
struct Slots {
    var id = Slot(), type = Slot(), time = Slot(), subject = Slot(), actor = Slot(), role = Slot(), system = Slot()
    var purpose = Slot(), categories = Slot(), recipient = Slot(), status = Slot(), source = Slot(), attributes = Slot()
    /// What the syntax pass found in `categories` and `attributes` when they were a list and an object.
    var categoryList = EventDecoder.CategoryList()
    var attributeList = EventDecoder.AttributeList()

    mutating func set(_ field: Field, _ newValue: Slot) {
        switch field {
        case .id: id = newValue
        case .type: type = newValue
        case .time: time = newValue
        case .subject: subject = newValue
        case .actor: actor = newValue
        case .role: role = newValue
        case .system: system = newValue
        case .purpose: purpose = newValue
        case .categories: categories = newValue
        case .recipient: recipient = newValue
        case .status: status = newValue
        case .source: source = newValue
        case .attributes: attributes = newValue
        }
    }
}

extension EventType {
    /// Matches the wire spelling as bytes.
    @inline(__always)
    init?(bytes p: UnsafeRawBufferPointer) {
        switch p.count {
        case 3: if equals(p, "use") { self = .use; return }
        case 5: if equals(p, "share") { self = .share; return }
        case 6:
            if equals(p, "access") { self = .access; return }
            if equals(p, "delete") { self = .delete; return }
        case 7:
            if equals(p, "collect") { self = .collect; return }
            if equals(p, "consent") { self = .consent; return }
        case 15: if equals(p, "erasure_request") { self = .erasureRequest; return }
        case 16: if equals(p, "relationship_end") { self = .relationshipEnd; return }
        default: break
        }
        return nil
    }

    var needsActor: Bool { self == .access || self == .use || self == .share }
    var needsPurpose: Bool { self == .access || self == .use || self == .share || self == .consent }
    var needsCategories: Bool {
        self == .access || self == .use || self == .share || self == .collect || self == .delete
    }
}

extension ConsentStatus {
    @inline(__always)
    init?(bytes p: UnsafeRawBufferPointer) {
        if equals(p, "granted") { self = .granted } else if equals(p, "withdrawn") { self = .withdrawn } else { return nil }
    }
}
