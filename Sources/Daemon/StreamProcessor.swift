import Alerts
import Events
import Foundation
import Kafka
import Logging
import Processing
import Rules
import Storage

/// The daemon's side of the processing core: each consumed batch becomes one fenced store transaction holding an
/// outbox row per output and, at a checkpoint, the state changed since the last one and the offset after each
/// partition's last processed message. One lane (engine and
/// digests) per assigned partition, with the rules keyed by subject; the watermark is the minimum over the partitions
/// that are assigned and not idle. Rules keyed by something else run in the keyed tasks this instance owns
/// (`StreamProcessor+Keyed.swift`).
final class StreamProcessor {
    struct PartitionRuntime {
        var engine: Engine
        var epoch: Int64
        /// The offset the store holds for this partition (what our next commit must find there).
        var storedOffset: Int64?
        /// The offset after the last message processed; ahead of `storedOffset` until the next checkpoint.
        var consumedOffset: Int64?
        var lastMessage: ContinuousClock.Instant
        /// The engine's observer: the partition's monthly digests and the events its keyed stages need.
        var observer: LaneObserver
        /// The watermark last written for the keyed stages.
        var recordedWatermark: Timestamp?

        var digests: DigestBook { observer.digests }
    }

    private(set) var pipeline: Pipeline
    private var erasureWatch: ErasureWatch? { ErasureWatch(pipeline: pipeline) }
    let configuration: DaemonConfiguration
    let store: any StateStore
    let metrics: DaemonMetrics
    let logger: Logger
    let stall: StallWatch
    /// Decoding and admission, with the run's counters: the first step of the processing core.
    let intake: EventIntake
    private(set) var partitions: [TopicPartition: PartitionRuntime] = [:]
    /// Partitions per source topic (from the cluster's metadata): a month's organisation digest waits for all.
    var sourcePartitionCounts: [String: Int] = [:]
    /// A month's organisation digest could not be completed: try again after the next batch.
    var retriesOrgDigests = false
    /// Month-close rows past which the partitions that made them are committed before the next partition closes its
    /// months (a partition's months are never split), so that many partitions' digests are not held at once.
    var monthCloseRowsPerCommit = 20_000
    /// Stored subject digests read at once when a month's folder is written.
    var digestPageSize = 10_000
    /// Inbox rows a keyed task reads at once (each the events one source partition sent it between two checkpoints).
    var keyedReadLimit = 2_000
    /// The repartition step, when the pipeline has rules keyed by other than the subject (`KeyedRuntime.swift`).
    var keyed: KeyedRuntime?
    /// How often, at most, the keyed tasks run while batches flow; they run on every idle tick too.
    static let keyedInterval: Swift.Duration = .milliseconds(200)
    /// When the partitions' state and offsets were last written (`DaemonConfiguration.checkpointInterval`).
    private var lastCheckpoint = ContinuousClock.now
    /// When free memory was last given back to the system; at most every `trimInterval` and after a month close.
    private var lastTrim = ContinuousClock.now
    static let trimInterval: Swift.Duration = .seconds(10)
    /// The partitions paused for being ahead in event time, and the bound they keep the buffers to.
    private(set) var pacing: BufferPacing
    /// The watermark last set on the partitions' engines.
    private var watermark: Timestamp?

    init(pipeline: Pipeline, configuration: DaemonConfiguration, store: any StateStore, metrics: DaemonMetrics, logger: Logger,
         stall: StallWatch = StallWatch(service: "pipeline")) {
        self.stall = stall
        self.pipeline = pipeline
        self.configuration = configuration
        self.store = store
        self.metrics = metrics
        self.logger = logger
        intake = EventIntake(taxonomy: pipeline.taxonomy)
        pacing = BufferPacing(limit: configuration.maxBufferedEvents)
    }

    /// Claims the partitions in the store and loads their state; returns where the consumer must start each.
    func assign(_ assigned: [TopicPartition]) async throws -> [TopicPartitionOffset] {
        var seeks: [TopicPartitionOffset] = []
        let progress = try await loadDigestProgress()
        try await setUpKeyedLayout()
        for tp in assigned {
            // A stage per partition: loading many large partitions is progress, not one long stall.
            stall.enter("loading partition \(tp)")
            let claim = try await store.claim(PartitionID(topic: tp.topic, partition: tp.partition), pipeline: pipeline.name)
            partitions[tp] = try makeRuntime(tp, claim: claim, closedBefore: progress[tp.description], lastMessage: .now)
            if let offset = claim.nextOffset { seeks.append(TopicPartitionOffset(tp, offset: offset)) }
            logger.info("partition assigned", metadata: [
                "partition": "\(tp)", "epoch": "\(claim.epoch)", "offset": "\(claim.nextOffset.map(String.init) ?? "start")",
                "state_rows": "\(claim.state.count)",
            ])
        }
        metrics.assigned(partitions.count)
        noteHeld()
        try await claimKeyedTasks()
        return seeks
    }

    /// Forgets revoked partitions (the caller has written their checkpoint, or their next owner reads again what they
    /// processed since the last one).
    func revoke(_ revoked: [TopicPartition]) {
        for tp in revoked { partitions.removeValue(forKey: tp) }
        pacing.forget(revoked)
        metrics.paced(paused: pacing.paused.count, newlyPaused: 0)
        releaseKeyedTasks()
        metrics.assigned(partitions.count)
        noteHeld()
        logger.info("partitions revoked", metadata: ["partitions": "\(revoked.map(\.description))"])
    }

    /// Replaces the rules: each partition's engine is rebuilt on the new pipeline from its stored state.
    func reload(_ newPipeline: Pipeline) async throws {
        // The engines are rebuilt from the store while the consumer goes on from where it is: the store must hold
        // everything processed so far.
        try await checkpoint()
        var rebuilt: [TopicPartition: PartitionRuntime] = [:]
        let progress = try await loadDigestProgress()
        pipeline = newPipeline
        keyed = nil
        try await setUpKeyedLayout()
        for (tp, runtime) in partitions {
            let claim = try await store.claim(PartitionID(topic: tp.topic, partition: tp.partition), pipeline: newPipeline.name)
            rebuilt[tp] = try makeRuntime(tp, claim: claim, closedBefore: progress[tp.description], lastMessage: runtime.lastMessage)
        }
        intake.use(newPipeline.taxonomy)
        partitions = rebuilt
        try await claimKeyedTasks()
    }

    /// A claimed partition's engine (the rules that are not repartitioned), digests and forwarder, from its state.
    private func makeRuntime(
        _ tp: TopicPartition, claim: PartitionClaim, closedBefore: String?, lastMessage: ContinuousClock.Instant
    ) throws -> PartitionRuntime {
        let engine = Engine(pipeline: keyed == nil ? pipeline : pipeline.restricted { $0.repartitionKey == nil })
        engine.advancesOwnWatermark = false
        let rows = claim.state.map(StateChange.init)
        try engine.restore(rows.filter { !DigestBook.isDigestRow(namespace: $0.namespace) })
        engine.trackChanges()
        let digests = try DigestBook(restoring: rows, closedBefore: closedBefore, erasure: erasureWatch)
        let forwarder = keyed.map { KeyedForwarder(layout: $0.layout, source: tp.source, restoring: rows) }
        let observer = LaneObserver(digests: digests, forwarder: forwarder)
        engine.observer = observer
        return PartitionRuntime(engine: engine, epoch: claim.epoch, storedOffset: claim.nextOffset, lastMessage: lastMessage,
                                observer: observer, recordedWatermark: nil)
    }

    /// Processes one batch and commits its effects; the caller then marks the batch processed in Kafka.
    func process(_ batch: ConsumerBatch) async throws {
        let started = ContinuousClock.now
        stall.enter("processing a batch")
        var outbox: [OutboxRow] = []
        var read: Set<TopicPartition> = []
        // Counted per batch: a metric update per message costs a registry look-up each.
        var eventsIn: [EventCount: Int] = [:]
        var late = 0, duplicates = 0
        for message in batch.messages {
            let tp = message.topicPartition
            guard var runtime = partitions[tp] else { continue }
            runtime.lastMessage = started
            runtime.consumedOffset = message.offset + 1
            read.insert(tp)
            let origin = Origin.kafka(topic: message.topic, partition: message.partition, offset: message.offset)
            let engine = runtime.engine
            let taken = message.value.withUnsafeBytes { bytes -> Intake in
                intake.take(bytes, origin: origin, into: engine, skipsBlank: false)
            }
            switch taken {
            case .blank, .afterUntil: break
            case .deadLetter(let dead):
                metrics.deadLetter(reason: dead.reason)
                outbox += deadLetterRows(dead, message: message)
            case .event(let event, let admission):
                switch admission {
                case .duplicate: duplicates += 1
                case .late:
                    late += 1
                    eventsIn[EventCount(topic: message.topic, type: event.type), default: 0] += 1
                case .accepted: eventsIn[EventCount(topic: message.topic, type: event.type), default: 0] += 1
                }
            }
            partitions[tp] = runtime
        }
        for (key, n) in eventsIn { metrics.eventIn(topic: key.topic, type: key.type.name, n) }
        if late > 0 { metrics.late(late) }
        if duplicates > 0 { metrics.duplicate(duplicates) }
        advanceWatermark(now: started)
        let made = drainOutputs()
        // A partition's first batch is a checkpoint: before it, the store has no offset to start the partition from.
        let checkpoint = started - lastCheckpoint >= configuration.checkpointInterval
            || read.contains { partitions[$0]?.storedOffset == nil }
        try await commit(touched: read.union(made.found), outbox: outbox + made.outbox, global: [], alerts: made.alerts,
                         checkpoint: checkpoint)
        metrics.batchCommitted(messages: batch.messages.count)
        try await advanceStages()
        noteHeld()
        metrics.batch(ContinuousClock.now - started)
    }

    /// The violations the partitions' engines found since the last call, as outputs, and the partitions that found them.
    private func drainOutputs() -> (outbox: [OutboxRow], alerts: [AlertRow], found: Set<TopicPartition>) {
        var made: (outbox: [OutboxRow], alerts: [AlertRow], found: Set<TopicPartition>) = ([], [], [])
        for (tp, runtime) in partitions.sorted(by: { $0.key < $1.key }) {
            let violations = runtime.engine.drainViolations()
            guard !violations.isEmpty else { continue }
            made.found.insert(tp)
            let outputs = outputs(of: violations)
            made.outbox += outputs.outbox
            made.alerts += outputs.alerts
        }
        return made
    }

    /// Periodic work while no message comes: the watermark moves past partitions that have gone idle (what it
    /// releases is committed with the checkpoint), the keyed tasks run over what other instances have released since,
    /// and the months that lets close are closed.
    func tick() async throws {
        defer { noteHeld() }
        let before = watermark
        advanceWatermark(now: .now)
        let made = drainOutputs()
        try await commit(touched: made.found, outbox: made.outbox, global: [], alerts: made.alerts, checkpoint: true)
        guard keyed != nil || retriesOrgDigests || watermark != before else { return }
        stall.enter("periodic work")
        try await advanceStages(keyedNow: true)
    }

    /// The partitions to pause, being too far ahead in event time, and those to resume (`BufferPacing`).
    /// Before the first watermark, the partitions that have had no event yet hold it back and are never paused.
    func pace() -> BufferPacing.Decision {
        let decision = pacing.decide(partitions.mapValues {
            BufferPacing.Partition(buffered: $0.engine.buffered, localWatermark: $0.engine.localWatermark)
        }, watermark: watermark ?? .distantPast)
        metrics.paced(paused: pacing.paused.count, newlyPaused: decision.pause.count)
        noteResumed(decision.resume)
        return decision
    }

    /// Resumed partitions are not idle, however long they were paused: until their next messages come, they hold the
    /// watermark where it is (otherwise it would pass everything they have not read yet, which would all be late).
    func noteResumed(_ resumed: [TopicPartition]) {
        let now = ContinuousClock.now
        for tp in resumed { partitions[tp]?.lastMessage = now }
    }

    /// Writes the state and offsets that changed since the last checkpoint, of every partition or of `only`: on idle
    /// ticks, before a reload, a pause or a revocation and when consumption stops, so that nothing is read again that
    /// need not be. A checkpoint of `only` leaves the other partitions' changes for the next one, so that a fenced
    /// checkpoint of revoked partitions costs the others nothing.
    func checkpoint(only: Set<TopicPartition>? = nil) async throws {
        try await commit(touched: [], outbox: [], global: [], alerts: [], checkpoint: true, only: only)
    }

    /// After a batch's commit: the keyed tasks (at most every `keyedInterval` while batches flow, so that small
    /// batches do not each pay a read of every task's inbox), then the months every stage has passed (committed with
    /// their partitions' checkpoints), then the organisation digests of months every partition has closed.
    private func advanceStages(keyedNow: Bool = false) async throws {
        if let keyed, keyedNow || keyed.lastRun.map({ ContinuousClock.now - $0 >= Self.keyedInterval }) ?? true {
            keyed.lastRun = .now
            try await runKeyedTasks()
        }
        let closed = try await closeDigestMonths()
        if closed || retriesOrgDigests { try await completeOrgDigests() }
        if closed || ContinuousClock.now - lastTrim >= Self.trimInterval {
            MallocTuning.returnFreeMemory()
            lastTrim = .now
        }
    }

    /// What the owned partitions hold in memory waiting (the gauges), after a batch, a tick or a change of partitions.
    private func noteHeld() {
        metrics.held(events: partitions.values.reduce(0) { $0 + $1.engine.buffered },
                     openMonths: partitions.values.map { $0.digests.openMonthCount }.max() ?? 0)
    }

    /// The minimum, over partitions that are not idle, of their largest event time minus the lateness. A partition
    /// paused for being ahead is not idle: it holds events the watermark has not passed.
    private func advanceWatermark(now: ContinuousClock.Instant) {
        let active = Array(partitions.filter {
            pacing.paused.contains($0.key) || now - $0.value.lastMessage < configuration.idleTimeout
        }.values)
        // A partition that is not idle but has had no event yet holds the watermark back: its first events may be
        // earlier than everything the others have seen, and would all be late.
        if active.contains(where: { $0.engine.localWatermark == nil }) { return }
        let candidates = (active.isEmpty ? Array(partitions.values) : active).compactMap { $0.engine.localWatermark }
        guard let w = candidates.min() else { return }
        for (_, runtime) in partitions { runtime.engine.advanceWatermark(to: w) }
        let mark = max(watermark ?? w, w)
        watermark = mark
        metrics.watermark(Double(mark.microseconds) / 1e6)
    }

    /// One transaction with the outputs and, at a checkpoint, for each partition with something new (messages
    /// processed, state changed, events for the keyed stages) its state rows and the offset after its last processed
    /// message, under its claim; a partition with nothing new is left out (its stored offset stands). Between
    /// checkpoints only the outputs are written, fenced by the claims of the partitions in `touched` (those the batch
    /// read or whose engines found the outputs' violations), whose stored offsets stay: after a crash or a rebalance
    /// those messages are processed again from the last checkpoint, and their outputs, with the same ids, are not
    /// added twice.
    func commit(
        touched: Set<TopicPartition>, outbox: [OutboxRow], global: [StateRow], alerts: [AlertRow], checkpoint: Bool,
        only: Set<TopicPartition>? = nil
    ) async throws {
        var batch = BatchCommit(outbox: outbox, global: global, alerts: alerts)
        var committed: [TopicPartition: Int64] = [:]
        var recorded: [TopicPartition: Timestamp] = [:]
        for (tp, runtime) in partitions.sorted(by: { $0.key < $1.key }) {
            if let only, !only.contains(tp) { continue }
            let id = PartitionID(topic: tp.topic, partition: tp.partition)
            guard checkpoint else {
                if touched.contains(tp), let stored = runtime.storedOffset {
                    batch.claims[id] = PartitionCommit(expectedOffset: stored, epoch: runtime.epoch, nextOffset: stored)
                }
                continue
            }
            let forwarded = runtime.observer.forwarder?.take() ?? (inbox: [], state: [])
            batch.global += forwarded.inbox.map(StateRow.init)
            if let keyed, runtime.engine.watermark != .distantPast, runtime.recordedWatermark != runtime.engine.watermark {
                batch.global.append(StateRow(namespace: KeyedSpace.watermarks(keyed.layout.pipeline), key: tp.description,
                                             value: KeyedSpace.micros(runtime.engine.watermark)))
                recorded[tp] = runtime.engine.watermark
            }
            // Before its first offset a partition has nothing to store; what changed waits for that commit.
            guard let next = runtime.consumedOffset ?? runtime.storedOffset else { continue }
            let changes = runtime.engine.takeStateChanges() + runtime.digests.stateChanges()
            guard next != runtime.storedOffset || !changes.isEmpty || !forwarded.state.isEmpty || !forwarded.inbox.isEmpty
                || touched.contains(tp)
            else { continue }
            batch.claims[id] = PartitionCommit(expectedOffset: runtime.storedOffset, epoch: runtime.epoch, nextOffset: next)
            batch.state[id] = (changes + forwarded.state).map(StateRow.init)
            committed[tp] = next
        }
        if checkpoint, only == nil { lastCheckpoint = .now }
        guard !batch.claims.isEmpty || !batch.outbox.isEmpty || !batch.global.isEmpty || !batch.alerts.isEmpty else { return }
        stall.enter(checkpoint ? "committing a checkpoint to the state store" : "committing a batch's outputs to the state store")
        try await store.commit(batch, pipeline: pipeline.name)
        for (tp, next) in committed { partitions[tp]?.storedOffset = next }
        for (tp, mark) in recorded { partitions[tp]?.recordedWatermark = mark }
    }

    /// What violations become, wherever an engine found them: counted, an outbox row per sink destination, an alert
    /// per route destination.
    func outputs(of violations: [Violation]) -> (outbox: [OutboxRow], alerts: [AlertRow]) {
        intake.count(violations)
        var out: (outbox: [OutboxRow], alerts: [AlertRow]) = ([], [])
        // Counted once per rule and severity: the registry's look-up of a labelled counter costs more than a row.
        var counts: [ViolationCount: Int] = [:]
        for v in violations {
            counts[ViolationCount(rule: v.rule, severity: v.severity), default: 0] += 1
            let value = v.jsonBytes
            out.outbox += violationRows(v, value: value)
            out.alerts += alertRows(v, value: value)
        }
        for (key, n) in counts { metrics.violation(rule: key.rule, severity: key.severity.name, n) }
        return out
    }

    private struct ViolationCount: Hashable {
        var rule: String
        var severity: Severity
    }

    /// `value`: the violation's JSON line.
    private func violationRows(_ v: Violation, value: [UInt8]) -> [OutboxRow] {
        let headers = [OutboxHeader(key: "consentinel-violation-id", value: Array(v.id.utf8)),
                       OutboxHeader(key: "consentinel-rule", value: Array(v.rule.utf8)),
                       OutboxHeader(key: "consentinel-severity", value: Array(v.severity.name.utf8))]
        let dests = destinations(configuration.violations)
        if dests.isEmpty {
            logger.warning("violation (no violations sink configured)", metadata: ["violation": "\(String(decoding: value, as: UTF8.self))"])
        }
        return dests.map { dest in
            OutboxRow(id: "\(dest)#\(v.id)", kind: "violation", topic: dest, key: Array(v.subject.utf8), value: value, headers: headers)
        }
    }

    /// One queued alert per destination (`ROUTE/CHANNEL`) of the routes that take the violation.
    private func alertRows(_ v: Violation, value: [UInt8]) -> [AlertRow] {
        let destinations = configuration.alerts.routes.destinations(for: v)
        guard !destinations.isEmpty else { return [] }
        let group = AlertViolation.group(rule: v.rule, actor: v.actor, subject: v.subject)
        return destinations.map { AlertRow(id: "\($0)#\(v.id)", destination: $0, group: group, value: value) }
    }

    private func deadLetterRows(_ d: DeadLetter, message: ConsumerMessage) -> [OutboxRow] {
        let value = d.json.bytes
        let origin = d.origin.description
        let headers = [OutboxHeader(key: "consentinel-reason", value: Array(d.reason.utf8)),
                       OutboxHeader(key: "consentinel-origin", value: Array(origin.utf8))]
        let dests = destinations(configuration.deadLetters)
        if dests.isEmpty { logger.warning("dead letter (no dead-letter sink configured)", metadata: ["dead_letter": "\(d.json.serialized)"]) }
        return dests.map { dest in
            OutboxRow(id: "\(dest)#dl:\(origin)", kind: "dead_letter", topic: dest, key: message.key, value: value, headers: headers)
        }
    }

    /// Outbox destinations of a sink: `kafka:TOPIC` and `file:PATH`.
    private func destinations(_ sink: DaemonConfiguration.Sink) -> [String] {
        (sink.topic.map { ["kafka:" + $0] } ?? []) + (sink.file.map { ["file:" + $0] } ?? [])
    }
}

extension StateRow {
    init(_ change: StateChange) { self.init(namespace: change.namespace, key: change.key, value: change.value) }
}

extension StateChange {
    init(_ row: StateRow) { self.init(namespace: row.namespace, key: row.key, value: row.value) }
}

extension TopicPartition {
    var source: SourcePartition { SourcePartition(topic: topic, partition: partition) }
}

extension KeyedTaskID {
    /// The task's claim in the store (its state, epoch and processed watermark), beside the source partitions'.
    var storeID: PartitionID { PartitionID(topic: storeTopic, partition: partition) }
}

/// A key of the per-batch event counts.
private struct EventCount: Hashable {
    var topic: String
    var type: EventType
}
