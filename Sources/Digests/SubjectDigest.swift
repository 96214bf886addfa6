import Events

/// What happened to one customer's data in one UTC month (docs/schemas/subject-digest.schema.json).
public struct SubjectDigest: Sendable {
    public struct Share: Sendable {
        public var categories: Set<String> = []
        public var count = 0
    }

    public struct ConsentChange: Sendable {
        public var time: Timestamp
        public var purpose: String
        public var status: String
        public var source: String?
    }

    /// The decision in force for a purpose at the month's end: the latest the customer made, in this month or before.
    public struct ConsentStanding: Sendable, Equatable {
        public var purpose: String
        public var status: String
        public var since: Timestamp
        public var source: String?

        public init(purpose: String, status: String, since: Timestamp, source: String?) {
            self.purpose = purpose
            self.status = status
            self.since = since
            self.source = source
        }
    }

    public struct Deletion: Sendable {
        public var time: Timestamp
        public var categories: [String]
    }

    public var subject: String
    public var month: String
    public var accessTotal = 0
    public var accessByPurpose: [String: Int] = [:]
    public var accessByCategory: [String: Int] = [:]
    public var accessByRole: [String: Int] = [:]
    public var accessBySystem: [String: Int] = [:]
    public var useTotal = 0
    public var useByPurpose: [String: Int] = [:]
    /// Keyed by recipient, then purpose.
    public var shares: [String: [String: Share]] = [:]
    public var consent: [ConsentChange] = []
    /// Sorted by purpose; every purpose the subject ever decided on.
    public var consentState: [ConsentStanding] = []
    public var deletions: [Deletion] = []
    public var violationTotal = 0
    public var violationsByRule: [String: Int] = [:]

    public init(subject: String, month: String) {
        self.subject = subject
        self.month = month
    }

    public mutating func record(_ event: Event) {
        switch event.type {
        case .access:
            accessTotal += 1
            if let p = event.purpose { accessByPurpose[p.key, default: 0] += 1 }
            for key in Set(event.categories.map(\.key)) { accessByCategory[key, default: 0] += 1 }
            if let r = event.role { accessByRole[r.string, default: 0] += 1 }
            if let s = event.system { accessBySystem[s.string, default: 0] += 1 }
        case .use:
            useTotal += 1
            if let p = event.purpose { useByPurpose[p.key, default: 0] += 1 }
        case .share:
            let recipient = event.recipient?.string ?? ""
            let purpose = event.purpose?.key ?? ""
            shares[recipient, default: [:]][purpose, default: Share()].count += 1
            shares[recipient]![purpose]!.categories.formUnion(event.categories.map(\.key))
        case .consent:
            if let p = event.purpose, let s = event.status {
                // Stable insertion keeps time order when a late decision arrives.
                let change = ConsentChange(time: event.time, purpose: p.key, status: s.description, source: event.source?.string)
                let i = consent.lastIndex { $0.time <= event.time }.map { $0 + 1 } ?? 0
                consent.insert(change, at: i)
            }
        case .delete:
            let deletion = Deletion(time: event.time, categories: event.deletesAll ? ["*"] : event.categories.map(\.key))
            let i = deletions.lastIndex { $0.time <= event.time }.map { $0 + 1 } ?? 0
            deletions.insert(deletion, at: i)
        case .collect, .erasureRequest, .relationshipEnd:
            break
        }
    }

    public mutating func recordViolation(rule: String) {
        violationTotal += 1
        violationsByRule[rule, default: 0] += 1
    }

    /// The compact JSON text of `json`, byte for byte, written without building the tree: the digest files' path.
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(768)
        writeJSON(into: &out)
        return out
    }

    public func writeJSON(into out: inout [UInt8]) {
        func string(_ s: String) { JSONValue.writeString(s, into: &out) }
        func int(_ n: Int) { JSONValue.writeInt(Int64(n), into: &out) }
        func counts(_ counts: [String: Int]) {
            out.append(123)
            for (i, (key, n)) in counts.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(44) }
                string(key)
                out.append(58)
                int(n)
            }
            out.append(125)
        }
        /// An object of strings, nil as `null`.
        func strings(_ fields: KeyValuePairs<String, String?>) {
            out.append(123)
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(44) }
                string(key)
                out.append(58)
                if let value { string(value) } else { out.append(contentsOf: "null".utf8) }
            }
            out.append(125)
        }
        out.append(contentsOf: #"{"subject":"#.utf8)
        string(subject)
        out.append(contentsOf: #","month":"#.utf8)
        string(month)
        out.append(contentsOf: #","accesses":{"total":"#.utf8)
        int(accessTotal)
        for (key, c) in [("by_purpose", accessByPurpose), ("by_category", accessByCategory), ("by_role", accessByRole),
                         ("by_system", accessBySystem)] {
            out.append(44)
            string(key)
            out.append(58)
            counts(c)
        }
        out.append(contentsOf: #"},"uses":{"total":"#.utf8)
        int(useTotal)
        out.append(contentsOf: #","by_purpose":"#.utf8)
        counts(useByPurpose)
        out.append(contentsOf: #"},"shares":["#.utf8)
        var first = true
        for recipient in shares.keys.sorted() {
            for (purpose, share) in shares[recipient]!.sorted(by: { $0.key < $1.key }) {
                if !first { out.append(44) }
                first = false
                out.append(contentsOf: #"{"recipient":"#.utf8)
                string(recipient)
                out.append(contentsOf: #","purpose":"#.utf8)
                string(purpose)
                out.append(contentsOf: #","categories":["#.utf8)
                for (i, category) in share.categories.sorted().enumerated() {
                    if i > 0 { out.append(44) }
                    string(category)
                }
                out.append(contentsOf: #"],"count":"#.utf8)
                int(share.count)
                out.append(125)
            }
        }
        out.append(contentsOf: #"],"consent":["#.utf8)
        for (i, c) in consent.enumerated() {
            if i > 0 { out.append(44) }
            strings(["time": c.time.rfc3339, "purpose": c.purpose, "status": c.status, "source": c.source])
        }
        out.append(contentsOf: #"],"consent_state":["#.utf8)
        for (i, c) in consentState.enumerated() {
            if i > 0 { out.append(44) }
            strings(["purpose": c.purpose, "status": c.status, "since": c.since.rfc3339, "source": c.source])
        }
        out.append(contentsOf: #"],"deletions":["#.utf8)
        for (i, d) in deletions.enumerated() {
            if i > 0 { out.append(44) }
            out.append(contentsOf: #"{"time":"#.utf8)
            string(d.time.rfc3339)
            out.append(contentsOf: #","categories":["#.utf8)
            for (j, category) in d.categories.enumerated() {
                if j > 0 { out.append(44) }
                string(category)
            }
            out.append(contentsOf: "]}".utf8)
        }
        out.append(contentsOf: #"],"violations":{"total":"#.utf8)
        int(violationTotal)
        out.append(contentsOf: #","by_rule":"#.utf8)
        counts(violationsByRule)
        out.append(contentsOf: "}}".utf8)
    }

    public var json: JSONValue {
        var shareList: [JSONValue] = []
        for recipient in shares.keys.sorted() {
            for (purpose, share) in shares[recipient]!.sorted(by: { $0.key < $1.key }) {
                shareList.append(.object([
                    ("recipient", .string(recipient)), ("purpose", .string(purpose)),
                    ("categories", .array(share.categories.sorted().map { .string($0) })), ("count", .int(Int64(share.count))),
                ]))
            }
        }
        return .object([
            ("subject", .string(subject)),
            ("month", .string(month)),
            ("accesses", .object([
                ("total", .int(Int64(accessTotal))), ("by_purpose", .counts(accessByPurpose)),
                ("by_category", .counts(accessByCategory)), ("by_role", .counts(accessByRole)),
                ("by_system", .counts(accessBySystem)),
            ])),
            ("uses", .object([("total", .int(Int64(useTotal))), ("by_purpose", .counts(useByPurpose))])),
            ("shares", .array(shareList)),
            ("consent", .array(consent.map { c in
                .object([("time", .string(c.time.rfc3339)), ("purpose", .string(c.purpose)), ("status", .string(c.status)),
                         ("source", c.source.map { .string($0) } ?? .null)])
            })),
            ("consent_state", ConsentStanding.json(consentState)),
            ("deletions", .array(deletions.map { d in
                .object([("time", .string(d.time.rfc3339)), ("categories", .array(d.categories.map { .string($0) }))])
            })),
            ("violations", .object([("total", .int(Int64(violationTotal))), ("by_rule", .counts(violationsByRule))])),
        ])
    }
}
