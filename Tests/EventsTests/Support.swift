import Foundation
@testable import Events

/// The real taxonomy (pipelines/taxonomy of this repository) and a decoder over it.
enum Fixtures {
    static let taxonomyDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("pipelines/taxonomy")
    static let taxonomy: Taxonomy = {
        do { return try Taxonomy.load(directory: taxonomyDirectory) } catch { fatalError("\(error)") }
    }()
    static let decoder = EventDecoder(taxonomy: taxonomy)

    /// Valid fields of each type, as raw JSON values, in wire order.
    static let base: [String: [(String, String)]] = [
        "access": [("actor", #""alice""#), ("role", #""support""#), ("purpose", #""essential.service.operations.support""#),
                   ("categories", #"["user.contact.email"]"#)],
        "use": [("actor", #""svc-recommender""#), ("purpose", #""marketing.advertising""#), ("categories", #"["user.behavior"]"#)],
        "share": [("actor", #""svc-crm""#), ("purpose", #""third_party_sharing""#), ("categories", #"["user.contact.email"]"#),
                  ("recipient", #""ad-network""#)],
        "collect": [("categories", #"["user.location.precise"]"#)],
        "delete": [("categories", #"["*"]"#)],
        "consent": [("purpose", #""marketing""#), ("status", #""granted""#), ("source", #""web""#)],
        "erasure_request": [],
        "relationship_end": [],
    ]

    /// The fields each type requires (docs/events.md), besides id, type, time and subject.
    static let required: [String: [String]] = [
        "access": ["actor", "role", "purpose", "categories"],
        "use": ["actor", "purpose", "categories"],
        "share": ["actor", "purpose", "categories", "recipient"],
        "collect": ["categories"],
        "delete": ["categories"],
        "consent": ["purpose", "status"],
        "erasure_request": [],
        "relationship_end": [],
    ]
}

/// A valid event of `type` as JSON, with fields replaced (raw JSON values) or removed (nil), extra ones appended.
func eventJSON(_ type: String, _ changes: [String: String?] = [:]) -> String {
    var fields: [(String, String)] = [
        ("id", #""evt-1""#), ("type", "\"\(type)\""), ("time", #""2024-05-01T12:00:00Z""#), ("subject", #""cust-1""#),
    ] + Fixtures.base[type]!
    for (key, value) in changes.sorted(by: { $0.key < $1.key }) {
        if let k = fields.firstIndex(where: { $0.0 == key }) {
            if let value { fields[k].1 = value } else { fields.remove(at: k) }
        } else if let value {
            fields.append((key, value))
        }
    }
    return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

func decode(_ json: String) -> Result<Event, DecodeError> { Fixtures.decoder.decode(json) }

func decode(bytes: [UInt8]) -> Result<Event, DecodeError> { Fixtures.decoder.decode(bytes) }

/// The dead-letter reason, or nil when the event is valid.
func reason(_ json: String) -> DeadLetterReason? { reason(bytes: Array(json.utf8)) }

func reason(bytes: [UInt8]) -> DeadLetterReason? {
    if case .failure(let e) = Fixtures.decoder.decode(bytes) { return e.reason }
    return nil
}

func error(_ json: String) -> DecodeError? {
    if case .failure(let e) = decode(json) { return e }
    return nil
}

func event(_ json: String) -> Event? {
    if case .success(let e) = decode(json) { return e }
    return nil
}
