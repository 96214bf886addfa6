import Digests
import Events
import Rules

/// The daemon's repartition step. Source partitions hold each subject's events, so a rule whose state is keyed by
/// something else (`Rule.repartitionKey`: a threshold grouped by actor, say) cannot run in them. Each such rule runs
/// in `partitions` keyed tasks instead: a partition's engine sends every event the rule uses, as it processes it, to
/// the task that owns the event's key (a hash of the key), through the state store, in the same transaction as the
/// partition's offsets (one row per task and checkpoint, `KeyedInbox`); the task processes them in event-time order once every source partition has passed them and
/// commits its state, its outputs and what it consumed in one transaction of its own.
///
/// Task `q` of every rule belongs to the instance that owns partition `q` of the leader topic (the source topic with
/// most partitions), so the consumer group spreads tasks as it spreads partitions; the store's epochs fence a task's
/// old owner as they fence a partition's.
public struct KeyedLayout: Sendable {
    public let pipeline: String
    public let rules: [Rule]
    /// Tasks per rule; fixed in the store at first start, so a key always hashes to the same task.
    public let partitions: Int32
    public let leaderTopic: String
    /// Every partition of every source topic: the keyed stages wait for all of them.
    public let sources: [SourcePartition]
    private let sourceIndex: [SourcePartition: Int]

    public init(pipeline: String, rules: [Rule], partitions: Int32, partitionCounts: [String: Int]) {
        self.pipeline = pipeline
        self.rules = rules
        self.partitions = partitions
        let topics = partitionCounts.keys.sorted()
        leaderTopic = topics.max { (partitionCounts[$0]!, $1) < (partitionCounts[$1]!, $0) } ?? ""
        sources = topics.flatMap { t in (0..<partitionCounts[t]!).map { SourcePartition(topic: t, partition: Int32($0)) } }
        sourceIndex = Dictionary(uniqueKeysWithValues: sources.enumerated().map { ($1, $0) })
    }

    /// The task of a key: FNV-1a over its bytes, modulo `partitions` (stable across versions and platforms).
    public func task(ofKey key: String) -> Int32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Int32(truncatingIfNeeded: h % UInt64(partitions))
    }

    /// The keyed tasks that go with the assigned source partitions.
    public func tasks(with assigned: some Sequence<SourcePartition>) -> [KeyedTaskID] {
        let owned = assigned.filter { $0.topic == leaderTopic && $0.partition < partitions }.map(\.partition).sorted()
        return rules.flatMap { rule in owned.map { KeyedTaskID(rule: rule.id, partition: $0) } }
    }

    public var allTasks: [KeyedTaskID] {
        rules.flatMap { rule in (0..<partitions).map { KeyedTaskID(rule: rule.id, partition: $0) } }
    }

    /// The position of a source partition among `sources`, for the order of events with equal times.
    public func index(of source: SourcePartition) -> Int { sourceIndex[source] ?? sources.count }
}

/// One keyed task: partition `partition` of rule `rule`'s keyed stage.
public struct KeyedTaskID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rule: String
    public var partition: Int32

    public init(rule: String, partition: Int32) {
        self.rule = rule
        self.partition = partition
    }

    /// The task's claim in the store (its state, epoch and processed watermark), beside the source partitions'.
    public var storeTopic: String { "repartition:" + rule }
    public var description: String { "\(rule)[\(partition)]" }
    public static func < (a: KeyedTaskID, b: KeyedTaskID) -> Bool { (a.rule, a.partition) < (b.rule, b.partition) }
}

/// Where the repartition step keeps its data in the store's global space.
///
/// - `keyed-layout:<pipeline>`, key `partitions`: tasks per rule, fixed at first start.
/// - `keyed-inbox:<pipeline>:<rule>:<q>`, key `KeyedSpace.inboxKey` of its earliest event: the events one source
///   partition sent task q between two of its checkpoints (`KeyedInbox`), or, as versions before 2026-12 wrote, one
///   event's JSON.
/// - `keyed-watermarks:<pipeline>`, key `topic[p]`: the watermark source partition p has released its events below
///   (microseconds), written with the events it sent.
/// - `keyed-progress:<pipeline>`, key `rule[q]`: the watermark task q has processed through (microseconds).
/// - `digest-amend:<pipeline>:<month>`, key violation id: a keyed task's violation, for its subject's digest.
public enum KeyedSpace {
    public static func layout(_ pipeline: String) -> String { "keyed-layout:\(pipeline)" }
    public static func inbox(_ pipeline: String, _ task: KeyedTaskID) -> String { "keyed-inbox:\(pipeline):\(task.rule):\(task.partition)" }
    public static func watermarks(_ pipeline: String) -> String { "keyed-watermarks:\(pipeline)" }
    public static func progress(_ pipeline: String) -> String { "keyed-progress:\(pipeline)" }
    public static func amendments(_ pipeline: String, month: String) -> String { "digest-amend:\(pipeline):\(month)" }

    /// Digits only, fixed width, so byte order is event-time order, then source partition, then the order the
    /// partition processed them in: 18 digits of biased event time, 6 of source index, 12 of sequence.
    public static func inboxKey(time: Timestamp, source: Int, sequence: UInt64) -> String {
        digits(UInt64(bitPattern: time.microseconds &+ timeBias), 18) + digits(UInt64(source), 6) + digits(sequence, 12)
    }

    /// Inbox keys below this one hold events before `time`.
    public static func inboxBound(_ time: Timestamp) -> String { digits(UInt64(bitPattern: time.microseconds &+ timeBias), 18) }

    public static func time(ofInboxKey key: String) -> Timestamp? {
        guard let biased = Int64(key.prefix(18)) else { return nil }
        return Timestamp(microseconds: biased - timeBias)
    }

    /// The time, source index and sequence an inbox key was made of.
    public static func parts(ofInboxKey key: String) -> (time: Timestamp, source: Int, sequence: UInt64)? {
        let utf8 = Array(key.utf8)
        guard utf8.count == 36, let time = time(ofInboxKey: key),
              let source = Int(String(decoding: utf8[18..<24], as: UTF8.self)),
              let sequence = UInt64(String(decoding: utf8[24...], as: UTF8.self))
        else { return nil }
        return (time, source, sequence)
    }

    /// Makes times from year -1200 to 5100 positive and 18 digits wide.
    private static let timeBias: Int64 = 100_000_000_000_000_000

    private static func digits(_ value: UInt64, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    public static func micros(_ t: Timestamp) -> [UInt8] { Array(String(t.microseconds).utf8) }
    public static func timestamp(_ bytes: [UInt8]?) -> Timestamp? {
        bytes.flatMap { Int64(String(decoding: $0, as: UTF8.self)) }.map(Timestamp.init(microseconds:))
    }
}

/// A source partition's side of the repartition step: the events its engine processes that a keyed rule uses,
/// as inbox rows for the task of their key. Numbered in processing order (kept in the partition's state).
public final class KeyedForwarder {
    public static let stateNamespace = "keyed-forwarder"
    let layout: KeyedLayout
    let source: Int
    private var sequence: UInt64
    private var pending: [KeyedTaskID: [KeyedInbox.Entry]] = [:]

    public init(layout: KeyedLayout, source: SourcePartition, restoring state: [StateChange]) {
        self.layout = layout
        self.source = layout.index(of: source)
        sequence = state.first { $0.namespace == Self.stateNamespace && $0.key == "sequence" }
            .flatMap { $0.value.flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } } ?? 0
    }

    public func forward(_ event: Event) {
        var json: [UInt8]?
        for rule in layout.rules where rule.uses(event) {
            guard let key = rule.repartitionKeyText(of: event) else { continue }
            sequence += 1
            if json == nil { json = event.json.bytes }
            let task = KeyedTaskID(rule: rule.id, partition: layout.task(ofKey: key))
            pending[task, default: []].append(KeyedInbox.Entry(time: event.time, source: source, sequence: sequence, json: json!))
        }
    }

    /// The inbox rows since the last call (global rows: one per task, holding what it was sent since), and the
    /// partition's state row of the sequence.
    public func take() -> (inbox: [StateChange], state: [StateChange]) {
        guard !pending.isEmpty else { return ([], []) }
        defer { pending = [:] }
        let rows = pending.sorted { $0.key < $1.key }.map { task, entries in
            KeyedInbox.row(namespace: KeyedSpace.inbox(layout.pipeline, task), entries)
        }
        return (rows, [StateChange(namespace: Self.stateNamespace, key: "sequence", value: Array(String(sequence).utf8))])
    }
}

/// A keyed task's inbox rows. A row holds the events one source partition sent the task between two of its
/// checkpoints, keyed by the earliest (so that the rows holding events before a time are those keyed before it); a
/// row for each event cost a checkpoint an insert and the task a read and a delete per event. The task processes
/// the events before its target in the order the rows of one event each had: event time, source, sequence.
public enum KeyedInbox {
    public struct Entry: Sendable, Equatable {
        public var time: Timestamp
        /// The source partition's index in the layout (`KeyedLayout.index(of:)`).
        public var source: Int
        public var sequence: UInt64
        /// The event as JSON.
        public var json: [UInt8]

        public init(time: Timestamp, source: Int, sequence: UInt64, json: [UInt8]) {
            self.time = time
            self.source = source
            self.sequence = sequence
            self.json = json
        }

        public static func precedes(_ a: Entry, _ b: Entry) -> Bool {
            (a.time, a.source, a.sequence) < (b.time, b.source, b.sequence)
        }
    }

    static let version: UInt8 = 1

    /// A row of `entries`, all from one source partition, keyed by the earliest.
    public static func row(namespace: String, _ entries: [Entry]) -> StateChange {
        let first = entries.min(by: Entry.precedes)!
        var out = StateBytes.Writer(version: version, capacity: 8 + entries.reduce(0) { $0 + 20 + $1.json.count })
        out.uint32(UInt32(entries.count))
        for entry in entries {
            out.int64(entry.time.microseconds)
            out.int64(Int64(bitPattern: entry.sequence))
            out.blob(entry.json)
        }
        return StateChange(namespace: namespace, key: KeyedSpace.inboxKey(time: first.time, source: first.source, sequence: first.sequence),
                           value: out.bytes)
    }

    /// The events of an inbox row; nil when it is neither such a row nor one event's JSON under an inbox key.
    public static func entries(of row: StateChange) -> [Entry]? {
        guard let key = KeyedSpace.parts(ofInboxKey: row.key), let value = row.value else { return nil }
        guard value.first == version else {
            return value.first == UInt8(ascii: "{") ? [Entry(time: key.time, source: key.source, sequence: key.sequence, json: value)] : nil
        }
        guard var reader = StateBytes.Reader(value, version: version), let count = reader.uint32() else { return nil }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let time = reader.int64(), let sequence = reader.int64(), let json = reader.blob() else { return nil }
            entries.append(Entry(time: Timestamp(microseconds: time), source: key.source, sequence: UInt64(bitPattern: sequence), json: json))
        }
        return reader.atEnd ? entries : nil
    }

    /// What a task whose target is `target` takes from `rows`: the events before it, in processing order, and the
    /// rows to write back: a row wholly taken is deleted, one partly taken is replaced by a row of what is left (keyed
    /// by its earliest event), one not taken is left as it is. Nil with the first row that cannot be read.
    public static func take(_ rows: [StateChange], before target: Timestamp) -> (due: [Entry], writes: [StateChange])? {
        var due: [Entry] = []
        var writes: [StateChange] = []
        for row in rows {
            guard let entries = entries(of: row) else { return nil }
            let taken = entries.filter { $0.time < target }
            guard !taken.isEmpty else { continue }
            due += taken
            writes.append(StateChange(namespace: row.namespace, key: row.key, value: nil))
            if taken.count < entries.count { writes.append(Self.row(namespace: row.namespace, entries.filter { $0.time >= target })) }
        }
        due.sort(by: Entry.precedes)
        return (due, writes)
    }
}

/// A lane's engine observer: its digests, and, in the daemon, what its keyed stages need.
public final class LaneObserver: EngineObserver {
    public let digests: DigestBook
    public let forwarder: KeyedForwarder?

    public init(digests: DigestBook, forwarder: KeyedForwarder?) {
        self.digests = digests
        self.forwarder = forwarder
    }

    public func processed(_ event: Event, late: Bool) {
        digests.processed(event, late: late)
        forwarder?.forward(event)
    }

    public func violated(_ violation: Violation) { digests.violated(violation) }
    public func monthEnded(_ end: Timestamp) {}
}

/// A keyed task's violation, waiting for the month's digest of its subject (`KeyedSpace.amendments`).
public struct DigestAmendment: Sendable {
    public var violationID: String
    public var facts: ViolationFacts

    public var subject: String { facts.subject }
    public var time: Timestamp { facts.time }

    public init(_ v: Violation) {
        violationID = v.id
        facts = ViolationFacts(v)
    }

    /// Stored as a JSON object of the facts (`time` in microseconds); rows of an earlier release,
    /// `rule␟severity␟microseconds␟subject`, are read too (without kind, reason, actor, role, system or categories).
    public init(row: StateChange) throws(ProcessingError) {
        violationID = row.key
        let bytes = row.value ?? []
        if bytes.first == UInt8(ascii: "{") {
            guard let json = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)), let facts = Self.facts(json) else {
                throw ProcessingError(.input, "stored digest amendment \(row.namespace)/\(row.key) cannot be read")
            }
            self.facts = facts
            return
        }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "\u{1F}", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, let micros = Int64(parts[2]) else {
            throw ProcessingError(.input, "stored digest amendment \(row.namespace)/\(row.key) cannot be read")
        }
        facts = ViolationFacts(rule: String(parts[0]), kind: "", reason: "", severity: String(parts[1]),
                               time: Timestamp(microseconds: micros), subject: String(parts[3]))
    }

    private static func facts(_ json: JSONValue) -> ViolationFacts? {
        func text(_ key: String) -> String? {
            if case .string(let s)? = json[key] { return s }
            return nil
        }
        guard let rule = text("rule"), let severity = text("severity"), let subject = text("subject"),
              case .int(let micros)? = json["time"] else { return nil }
        var categories: [String] = []
        if case .array(let items)? = json["categories"] { for case .string(let c) in items { categories.append(c) } }
        return ViolationFacts(rule: rule, kind: text("kind") ?? "", reason: text("reason") ?? "", severity: severity,
                              time: Timestamp(microseconds: micros), subject: subject, actor: text("actor"),
                              role: text("role"), system: text("system"), categories: categories)
    }

    public var value: [UInt8] {
        var members: [(String, JSONValue)] = [
            ("rule", .string(facts.rule)), ("kind", .string(facts.kind)), ("reason", .string(facts.reason)),
            ("severity", .string(facts.severity)), ("time", .int(facts.time.microseconds)), ("subject", .string(facts.subject)),
        ]
        if let actor = facts.actor { members.append(("actor", .string(actor))) }
        if let role = facts.role { members.append(("role", .string(role))) }
        if let system = facts.system { members.append(("system", .string(system))) }
        members.append(("categories", .array(facts.categories.map { .string($0) })))
        return JSONValue.object(members).bytes
    }
}

/// A partition of a source topic.
public struct SourcePartition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (a: SourcePartition, b: SourcePartition) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
    public var description: String { "\(topic)[\(partition)]" }
}
