import Events

/// The event decoder: any bytes give an event or a dead-letter reason; an event written back as JSON (`Event.json`)
/// decodes to an equal event.
enum DecoderProperties {
    static let decoder = EventDecoder(taxonomy: builtinTaxonomy)

    static func check(_ input: [UInt8]) throws(PropertyFailure) {
        let event: Event
        switch decoder.decode(input) {
        case .failure(let error):
            try require(DeadLetterReason.all.contains(error.reason), "unknown reason \(error.reason)")
            try require(!error.message.isEmpty, "a \(error.reason) without a message")
            return
        case .success(let decoded):
            event = decoded
        }
        let json = event.json.serialized
        switch decoder.decode(json) {
        case .failure(let error):
            throw PropertyFailure("the decoded event's JSON does not decode (\(error)): \(json)")
        case .success(let again):
            if let field = firstDifference(event, again) {
                throw PropertyFailure("the decoded event's JSON decodes to another \(field): \(json)")
            }
        }
    }

    /// The first field in which two events differ, or nil when they are equal.
    static func firstDifference(_ a: Event, _ b: Event) -> String? {
        let fields: [(String, Bool)] = [
            ("id", a.id == b.id), ("type", a.type == b.type), ("time", a.time == b.time), ("subject", a.subject == b.subject),
            ("actor", a.actor == b.actor), ("role", a.role == b.role), ("system", a.system == b.system),
            ("purpose", a.purpose?.key == b.purpose?.key), ("categories", a.categories.map(\.key) == b.categories.map(\.key)),
            ("deletesAll", a.deletesAll == b.deletesAll), ("recipient", a.recipient == b.recipient),
            ("status", a.status == b.status), ("source", a.source == b.source), ("attributes", a.attributes == b.attributes),
        ]
        return fields.first { !$0.1 }?.0
    }
}

let builtinTaxonomy: Taxonomy = {
    do { return try Taxonomy.builtin() } catch { fatalError("the built-in taxonomy does not load: \(error)") }
}()
