import Events

/// A subject's counters of an open month as a stored state row (`StateBytes`, version 1): the totals, the consent
/// changes and deletions, then each counter with the names of its symbols. The row is written at every checkpoint
/// that touched the subject, so it skips the digest's dictionaries and JSON.
extension SubjectTally {
    static let stateVersion: UInt8 = 1

    /// `names`: a snapshot of the symbol table.
    func state(_ names: [Symbol]) -> [UInt8] {
        var out = StateBytes.Writer(version: Self.stateVersion, capacity: 32 + counters.count * 24)
        out.int64(Int64(accessTotal))
        out.int64(Int64(useTotal))
        out.int64(Int64(violationTotal))
        out.uint32(UInt32(consent.count))
        for change in consent {
            out.int64(change.time.microseconds)
            out.string(change.purpose)
            out.string(change.status)
            out.byte(change.source == nil ? 0 : 1)
            if let source = change.source { out.string(source) }
        }
        out.uint32(UInt32(deletions.count))
        for deletion in deletions {
            out.int64(deletion.time.microseconds)
            out.uint32(UInt32(deletion.categories.count))
            for c in deletion.categories { out.string(c) }
        }
        out.uint32(UInt32(counters.count))
        for counter in counters {
            out.byte(counter.kind.rawValue)
            out.int64(Int64(counter.count))
            out.string(names[Int(counter.a)].string)
            if counter.kind.hasSharePurpose { out.string(names[Int(counter.b)].string) }
            if counter.kind.hasShareCategory { out.string(names[Int(counter.c)].string) }
        }
        return out.bytes
    }

    /// Counters read back from `state`; nil when the bytes are not such a row.
    init?(state: [UInt8]) {
        guard var reader = StateBytes.Reader(state, version: Self.stateVersion),
              let access = reader.int64(), let use = reader.int64(), let violations = reader.int64(),
              let consentCount = reader.uint32()
        else { return nil }
        self.init()
        accessTotal = Int(access)
        useTotal = Int(use)
        violationTotal = Int(violations)
        for _ in 0..<consentCount {
            guard let time = reader.int64(), let purpose = reader.string(), let status = reader.string(),
                  let hasSource = reader.byte(), hasSource <= 1
            else { return nil }
            var source: String?
            if hasSource == 1 {
                guard let s = reader.string() else { return nil }
                source = s
            }
            consent.append(SubjectDigest.ConsentChange(time: Timestamp(microseconds: time), purpose: purpose, status: status, source: source))
        }
        guard let deletionCount = reader.uint32() else { return nil }
        for _ in 0..<deletionCount {
            guard let time = reader.int64(), let n = reader.uint32() else { return nil }
            var categories: [String] = []
            for _ in 0..<n {
                guard let c = reader.string() else { return nil }
                categories.append(c)
            }
            deletions.append(SubjectDigest.Deletion(time: Timestamp(microseconds: time), categories: categories))
        }
        guard let counterCount = reader.uint32() else { return nil }
        for _ in 0..<counterCount {
            guard let raw = reader.byte(), let kind = Kind(rawValue: raw), let count = reader.int64(), let a = reader.string()
            else { return nil }
            var b: UInt32 = 0, c: UInt32 = 0
            if kind.hasSharePurpose {
                guard let name = reader.string() else { return nil }
                b = Symbol(name).id
            }
            if kind.hasShareCategory {
                guard let name = reader.string() else { return nil }
                c = Symbol(name).id
            }
            addCounter(Counter(kind: kind, a: Symbol(a).id, b: b, c: c, count: Int(count)))
        }
        guard reader.atEnd else { return nil }
    }
}

extension SubjectTally.Kind {
    /// Whether a counter of this kind has a second symbol, a share's purpose (`b`).
    var hasSharePurpose: Bool { self == .share || self == .shareCategory }
    /// Whether it has a third, a shared category (`c`).
    var hasShareCategory: Bool { self == .shareCategory }
}
