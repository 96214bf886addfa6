import Events
import Foundation

/// A rule's stored state in `StateBytes`' layout (version byte 1), which a checkpoint writes for every key it touched:
/// cheaper to write and read than the JSON that versions before 2026-12-02 wrote, which is still read (it begins
/// with `{` or `[`).
protocol StoredRecord: Codable {
    func write(_ out: inout StateBytes.Writer)
    init?(reading: inout StateBytes.Reader)
}

extension StoredRecord {
    static var version: UInt8 { 1 }

    var bytes: [UInt8] {
        var out = StateBytes.Writer(version: Self.version)
        write(&out)
        return out.bytes
    }

    /// The record of a stored row, binary or JSON (an object, or an array for a list).
    static func read(_ value: [UInt8], decoder: JSONDecoder) throws -> Self {
        if value.first == UInt8(ascii: "{") || value.first == UInt8(ascii: "[") { return try decoder.decode(Self.self, from: Data(value)) }
        guard var reader = StateBytes.Reader(value, version: version), let record = Self(reading: &reader), reader.atEnd else {
            throw PersistenceError(description: "not a stored \(Self.self)")
        }
        return record
    }
}

extension Timestamp {
    fileprivate init?(reading reader: inout StateBytes.Reader) {
        guard let us = reader.int64() else { return nil }
        self.init(microseconds: us)
    }
}

extension RetentionRecord: StoredRecord {
    func write(_ out: inout StateBytes.Writer) {
        out.uint32(UInt32(clocks.count))
        for c in clocks {
            out.string(c.category)
            out.string(c.startedBy)
            out.int64(c.startedAt.microseconds)
            out.optionalInt64(c.deadline?.microseconds)
            out.string(c.deadlineSetBy)
            out.int64(Int64(bitPattern: c.generation))
            out.bool(c.overdue)
        }
        out.optionalInt64(endedAt?.microseconds)
        out.optionalString(endedBy)
    }

    init?(reading r: inout StateBytes.Reader) {
        guard let count = r.uint32() else { return nil }
        var clocks: [ClockRecord] = []
        for _ in 0..<count {
            guard let category = r.string(), let startedBy = r.string(), let startedAt = Timestamp(reading: &r),
                  let deadline = r.optionalInt64(), let deadlineSetBy = r.string(), let generation = r.int64(),
                  let overdue = r.bool()
            else { return nil }
            clocks.append(ClockRecord(category: category, startedBy: startedBy, startedAt: startedAt,
                                      deadline: deadline.map(Timestamp.init(microseconds:)), deadlineSetBy: deadlineSetBy,
                                      generation: UInt64(bitPattern: generation), overdue: overdue))
        }
        guard let endedAt = r.optionalInt64(), let endedBy = r.optionalString() else { return nil }
        self.clocks = clocks
        self.endedAt = endedAt.map(Timestamp.init(microseconds:))
        self.endedBy = endedBy
    }
}

extension DeadlineEvaluator.Clock: StoredRecord {
    func write(_ out: inout StateBytes.Writer) {
        out.int64(deadline.microseconds)
        out.string(startedBy)
        out.int64(startedAt.microseconds)
        out.string(subject)
        out.optionalString(actor)
        out.int64(Int64(bitPattern: generation))
    }

    init?(reading r: inout StateBytes.Reader) {
        guard let deadline = Timestamp(reading: &r), let startedBy = r.string(), let startedAt = Timestamp(reading: &r),
              let subject = r.string(), let actor = r.optionalString(), let generation = r.int64()
        else { return nil }
        self.init(deadline: deadline, startedBy: startedBy, startedAt: startedAt, subject: subject, actor: actor,
                  generation: UInt64(bitPattern: generation))
    }
}

extension ThresholdEvaluator.Window: StoredRecord {
    func write(_ out: inout StateBytes.Writer) {
        out.uint32(UInt32(group.count))
        for value in group { out.string(value) }
        out.int64(start)
        out.int64(Int64(count))
        out.uint32(UInt32(distinct.count))
        for value in distinct.sorted() { out.string(value) }
        out.bool(fired)
    }

    init?(reading r: inout StateBytes.Reader) {
        guard let groups = r.uint32() else { return nil }
        var group: [String] = []
        for _ in 0..<groups {
            guard let value = r.string() else { return nil }
            group.append(value)
        }
        guard let start = r.int64(), let count = r.int64(), let distincts = r.uint32() else { return nil }
        var distinct: Set<String> = []
        for _ in 0..<distincts {
            guard let value = r.string() else { return nil }
            distinct.insert(value)
        }
        guard let fired = r.bool() else { return nil }
        self.init(group: group, start: start, count: Int(count), distinct: distinct, fired: fired)
    }
}

/// A subject's consent decisions (namespace `consent`): their count, then each decision.
struct DecisionList: StoredRecord {
    var records: [DecisionRecord]

    init(_ records: [DecisionRecord]) { self.records = records }

    init(from decoder: Decoder) throws { records = try [DecisionRecord](from: decoder) }
    func encode(to encoder: Encoder) throws { try records.encode(to: encoder) }

    func write(_ out: inout StateBytes.Writer) {
        out.uint32(UInt32(records.count))
        for d in records {
            out.int64(d.time.microseconds)
            out.string(d.purpose)
            out.string(d.status)
            out.optionalString(d.source)
            out.string(d.event)
        }
    }

    init?(reading r: inout StateBytes.Reader) {
        guard let count = r.uint32() else { return nil }
        records = []
        for _ in 0..<count {
            guard let time = Timestamp(reading: &r), let purpose = r.string(), let status = r.string(),
                  let source = r.optionalString(), let event = r.string()
            else { return nil }
            records.append(DecisionRecord(time: time, purpose: purpose, status: status, source: source, event: event))
        }
    }
}
