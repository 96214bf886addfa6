import Events
import Kafka
import Logging
import Processing
import Rules
import Storage

/// The keyed tasks of the repartition step (layout and forwarding: `Processing/Repartitioning.swift`), run after batches
/// and on idle ticks.
extension StreamProcessor {
    /// Whether `pipeline` can be set up now: its repartitioned rules, if any, need the source topics' partition counts.
    func canSetUp(_ pipeline: Pipeline) -> Bool {
        pipeline.repartitionedRules.isEmpty || configuration.source.topics.allSatisfy { sourcePartitionCounts[$0] != nil }
    }

    /// Reads (or, on first start, fixes) the number of tasks per repartitioned rule; needs the source topics'
    /// partition counts. Nothing to do for a pipeline without such rules.
    func setUpKeyedLayout() async throws {
        let rules = pipeline.repartitionedRules
        guard !rules.isEmpty else {
            keyed = nil
            return
        }
        let topics = configuration.source.topics
        guard topics.allSatisfy({ sourcePartitionCounts[$0] != nil }) else {
            throw DaemonError(.input, "cannot read the partition counts of the source topics \(topics), which rules "
                + "\(rules.map(\.id)) need to repartition their events; is the cluster reachable?")
        }
        let namespace = KeyedSpace.layout(pipeline.name)
        var partitions = try await store.loadGlobal(namespace: namespace, key: "partitions")
            .flatMap { Int32(String(decoding: $0, as: UTF8.self)) }
        if partitions == nil {
            let count = Int32(sourcePartitionCounts.values.max() ?? 1)
            try await store.commit(BatchCommit(global: [StateRow(namespace: namespace, key: "partitions", value: Array(String(count).utf8))]),
                                   pipeline: pipeline.name)
            partitions = count
            logger.info("keyed stages laid out", metadata: ["rules": "\(rules.map(\.id))", "tasks_per_rule": "\(count)"])
        }
        let counts = Dictionary(uniqueKeysWithValues: topics.map { ($0, sourcePartitionCounts[$0]!) })
        if let current = keyed, current.layout.partitions == partitions, current.layout.sources.count == counts.values.reduce(0, +),
           current.layout.rules.map(\.id) == rules.map(\.id) { return }
        keyed = KeyedRuntime(layout: KeyedLayout(pipeline: pipeline.name, rules: rules, partitions: partitions!, partitionCounts: counts))
    }

    /// Claims the keyed tasks that go with the assigned partitions and loads their state.
    func claimKeyedTasks() async throws {
        guard let keyed else { return }
        for id in keyed.layout.tasks(with: partitions.keys.map(\.source)) where keyed.tasks[id] == nil {
            guard let rule = keyed.layout.rules.first(where: { $0.id == id.rule }) else { continue }
            let claim = try await store.claim(id.storeID, pipeline: pipeline.name)
            let engine = Engine(pipeline: pipeline.restricted { $0.id == rule.id })
            engine.advancesOwnWatermark = false
            try engine.restore(claim.state.map(StateChange.init))
            engine.trackChanges()
            keyed.tasks[id] = KeyedRuntime.Task(engine: engine, epoch: claim.epoch, through: claim.nextOffset)
            logger.info("keyed task assigned", metadata: [
                "task": "\(id)", "epoch": "\(claim.epoch)", "through": "\(claim.nextOffset.map { Timestamp(microseconds: $0).rfc3339 } ?? "start")",
                "state_rows": "\(claim.state.count)",
            ])
        }
    }

    /// Forgets the keyed tasks whose leader partition was revoked.
    func releaseKeyedTasks() {
        guard let keyed else { return }
        let kept = Set(keyed.layout.tasks(with: partitions.keys.map(\.source)))
        for id in keyed.tasks.keys where !kept.contains(id) { keyed.tasks.removeValue(forKey: id) }
    }

    /// The watermark every source partition has passed, from what their owners wrote; nil while one has written none.
    private func sourcesWatermark(_ layout: KeyedLayout) async throws -> Timestamp? {
        let rows = try await store.loadGlobal(namespace: KeyedSpace.watermarks(layout.pipeline))
        let marks = Dictionary(rows.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var low: Timestamp?
        for source in layout.sources {
            guard let mark = KeyedSpace.timestamp(marks[source.description] ?? nil) else { return nil }
            low = low.map { Swift.min($0, mark) } ?? mark
        }
        return low
    }

    /// Runs each owned keyed task over the events every source partition has released since its last run, and
    /// commits its state, outputs, progress and consumed inbox rows in one transaction.
    func runKeyedTasks() async throws {
        guard let keyed, !keyed.tasks.isEmpty else { return }
        stall.enter("reading the keyed stages' watermark")
        guard let watermark = try await sourcesWatermark(keyed.layout) else { return }
        let name = pipeline.name
        var batch = BatchCommit()
        var done: [KeyedTaskID: Int64] = [:]
        for (id, task) in keyed.tasks.sorted(by: { $0.key < $1.key }) {
            let from = task.through.map(Timestamp.init(microseconds:))
            guard from.map({ watermark > $0 }) ?? true else { continue }
            stall.enter("reading a keyed task's inbox")
            let namespace = KeyedSpace.inbox(name, id)
            let bound = KeyedSpace.inboxBound(watermark)
            var rows = try await store.loadGlobal(namespace: namespace, before: bound, limit: keyedReadLimit)
            var target = watermark
            if rows.count == keyedReadLimit, let last = rows.last.flatMap({ KeyedSpace.time(ofInboxKey: $0.key) }) {
                // Rows not read hold no event before the last row's earliest.
                target = Swift.max(last, from ?? last)
            }
            guard var taken = KeyedInbox.take(rows.map(StateChange.init), before: target) else {
                throw DaemonError(.input, "keyed task \(id): an inbox row cannot be read")
            }
            if taken.due.isEmpty, rows.count == keyedReadLimit {
                // As many rows as the limit, all beginning at the target: only reading them all moves the task on.
                rows = try await store.loadGlobal(namespace: namespace, before: bound, limit: .max)
                target = watermark
                guard let all = KeyedInbox.take(rows.map(StateChange.init), before: target) else {
                    throw DaemonError(.input, "keyed task \(id): an inbox row cannot be read")
                }
                taken = all
            }
            var events: [Event] = []
            events.reserveCapacity(taken.due.count)
            for entry in taken.due {
                switch entry.json.withUnsafeBytes({ intake.decode($0) }) {
                case .success(let event): events.append(event)
                case .failure(let error):
                    throw DaemonError(.input, "keyed task \(id): a stored event of source \(entry.source), number \(entry.sequence), cannot be read: \(error.message)")
                }
            }
            task.engine.process(ordered: events, through: target)
            let found = task.engine.drainViolations()
            let made = outputs(of: found)
            batch.outbox += made.outbox
            batch.alerts += made.alerts
            for v in found {
                // A month the task has passed may be closed already; its digests no longer change (as in a replay).
                if from.map({ v.time.startOfNextMonth > $0 }) ?? true {
                    let amendment = DigestAmendment(v)
                    batch.global.append(StateRow(namespace: KeyedSpace.amendments(name, month: v.time.monthKey), key: v.id,
                                                 value: amendment.value))
                }
            }
            batch.global += taken.writes.map(StateRow.init)
            batch.global.append(StateRow(namespace: KeyedSpace.progress(name), key: id.description, value: KeyedSpace.micros(target)))
            batch.claims[id.storeID] = PartitionCommit(expectedOffset: task.through, epoch: task.epoch, nextOffset: target.microseconds)
            batch.state[id.storeID] = task.engine.takeStateChanges().map(StateRow.init)
            done[id] = target.microseconds
        }
        guard !batch.claims.isEmpty else { return }
        stall.enter("committing the keyed tasks")
        try await store.commit(batch, pipeline: name)
        for (id, through) in done { keyed.tasks[id]?.through = through }
    }

    /// The watermark every keyed task has processed through: months before it can close. `nil` without keyed rules;
    /// `.distantPast` while a task has never run.
    func keyedTasksWatermark() async throws -> Timestamp? {
        guard let keyed else { return nil }
        let rows = try await store.loadGlobal(namespace: KeyedSpace.progress(pipeline.name))
        let marks = Dictionary(rows.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var low = Timestamp.distantFuture
        for id in keyed.layout.allTasks {
            guard let mark = KeyedSpace.timestamp(marks[id.description] ?? nil) else { return .distantPast }
            low = Swift.min(low, mark)
        }
        return low
    }
}
