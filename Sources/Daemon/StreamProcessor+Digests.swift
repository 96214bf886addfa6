import Digests
import Events
import Foundation
import Kafka
import Processing
import Rules
import Storage

/// Closing months in the daemon. Each partition closes a month when its watermark passes the month's end: its
/// subject digests go to the digest topic and to the global space (for the portal), its part of the organisation
/// digest to the global space, all in one transaction with the partition's checkpoint. The instance whose commit
/// completes a month (every partition of the source topics has closed it) merges the parts and emits the one
/// organisation digest.
extension StreamProcessor {
    struct DigestOutputs {
        var outbox: [OutboxRow] = []
        var global: [StateRow] = []
    }

    /// Where each partition has closed its months, from the global space.
    func loadDigestProgress() async throws -> [String: String] {
        let rows = try await store.loadGlobal(namespace: DigestSpace.progress(pipeline.name))
        return Dictionary(rows.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) }, uniquingKeysWith: { a, _ in a })
    }

    /// Closes, in every partition, the months its watermark has passed, and that every keyed task has passed too:
    /// their violations count in the digests of their subjects (`KeyedSpace.amendments`), applied here first. The
    /// rows are committed with the checkpoint of the partitions that made them, fenced by their claims, once they
    /// reach `monthCloseRowsPerCommit` (or at the end): many partitions' digests are not held at once. A failed commit
    /// leaves later partitions' months closed in memory only, so the processor must then be discarded and rebuilt
    /// from the store, as `PipelineService` does with every processing error. Returns whether any month closed.
    func closeDigestMonths() async throws -> Bool {
        var out = DigestOutputs()
        var closing: Set<TopicPartition> = []
        var closedAny = false
        func commitClosing() async throws {
            guard !out.global.isEmpty || !out.outbox.isEmpty else { return }
            try await commit(touched: closing, outbox: out.outbox, global: out.global, alerts: [], checkpoint: true, only: closing)
            out = DigestOutputs()
            closing = []
            closedAny = true
        }
        let name = pipeline.name
        let topic = configuration.digests.topic.map { "kafka:" + $0 }
        let latest = partitions.values.map(\.engine.watermark).max() ?? .distantPast
        let due = partitions.values.contains { $0.digests.earliestOpenMonthEnd.map { $0 <= latest } ?? false }
        let keyedWatermark = due ? try await keyedTasksWatermark() : nil
        var amendments: [String: [DigestAmendment]] = [:]
        var applied: Set<String> = []
        for (tp, runtime) in partitions.sorted(by: { $0.key < $1.key }) {
            let rowsBefore = out.global.count + out.outbox.count
            var watermark = runtime.engine.watermark
            if let keyedWatermark { watermark = Swift.min(watermark, keyedWatermark) }
            guard watermark != .distantPast else { continue }
            if keyedWatermark != nil {
                for month in runtime.digests.months(endingBy: watermark) {
                    if amendments[month] == nil {
                        amendments[month] = try await store.loadGlobal(namespace: KeyedSpace.amendments(name, month: month))
                            .map { row throws(ProcessingError) in try DigestAmendment(row: StateChange(row)) }
                    }
                    // The keyed tasks' violations of this partition's subjects count in their digests (a subject is
                    // this partition's if it has a digest here that month, or its consent decisions are kept here:
                    // its digest then carries its standing choices, as in a replay).
                    for a in amendments[month, default: []] where !applied.contains(a.violationID)
                        && (runtime.digests.holds(a.subject, in: month) || runtime.digests.carriesDecisions(of: a.subject)) {
                        runtime.digests.recordViolation(a.facts)
                        applied.insert(a.violationID)
                        out.global.append(StateRow(namespace: KeyedSpace.amendments(name, month: month), key: a.violationID, value: nil))
                    }
                }
            }
            let before = runtime.digests.closedBefore
            let partition = tp.description
            for month in runtime.digests.close(through: watermark) {
                for digest in month.subjects {
                    let line = digest.jsonBytes
                    out.global.append(StateRow(namespace: DigestSpace.subjects(name, month: month.month), key: digest.subject, value: line))
                    if let topic { out.outbox.append(subjectDigestRow(digest, month: month.month, topic: topic, line: line)) }
                }
                out.global.append(StateRow(namespace: DigestSpace.parts(name, month: month.month), key: partition,
                                           value: month.org.json.bytes))
                out.global.append(StateRow(namespace: DigestSpace.pending(name), key: month.month, value: []))
            }
            if let after = runtime.digests.closedBefore, after != before {
                out.global.append(StateRow(namespace: DigestSpace.progress(name), key: partition, value: Array(after.utf8)))
            }
            let rows = out.global.count + out.outbox.count
            if rows > rowsBefore { closing.insert(tp) }
            if rows >= monthCloseRowsPerCommit { try await commitClosing() }
        }
        try await commitClosing()
        return closedAny
    }

    /// Emits the organisation digest of every pending month that all partitions of the source topics have closed.
    /// Safe to run on several instances at once: the outbox row's id is deterministic, so it is published once.
    func completeOrgDigests() async throws {
        retriesOrgDigests = false
        let name = pipeline.name
        let pending = try await store.loadGlobal(namespace: DigestSpace.pending(name)).map(\.key).sorted()
        let topics = configuration.source.topics
        guard !pending.isEmpty, topics.allSatisfy({ sourcePartitionCounts[$0] != nil }) else { return }
        let progress = try await loadDigestProgress()
        let all = topics.flatMap { t in (0..<(sourcePartitionCounts[t] ?? 0)).map { "\(t)[\($0)]" } }
        for month in pending {
            guard all.allSatisfy({ progress[$0].map { month < $0 } ?? false }) else { continue }
            do {
                try await complete(month)
            } catch {
                retriesOrgDigests = true
                logger.error("cannot complete a month's organisation digest; will try again", metadata: ["month": "\(month)", "error": "\(error)"])
            }
        }
    }

    /// Merges a month's parts, writes its folder (when configured), emits and stores the organisation digest.
    private func complete(_ month: String) async throws {
        let name = pipeline.name
        let parts = try await store.loadGlobal(namespace: DigestSpace.parts(name, month: month))
        // Another instance completed it meanwhile (it removes the parts and the pending mark in one transaction).
        guard !parts.isEmpty, try await store.loadGlobal(namespace: DigestSpace.orgs(name), key: month) == nil else { return }
        var org = OrgDigest(month: month)
        for part in parts {
            org.add(try OrgDigest(jsonText: String(decoding: part.value ?? [], as: UTF8.self), origin: "digest part \(part.key)"))
        }
        var commit = BatchCommit()
        let amended = try await amendLeftovers(month, org: &org, commit: &commit)
        if let directory = configuration.digests.file { try await writeMonth(month, org: org, amended: amended, to: directory) }
        commit.global += [
            StateRow(namespace: DigestSpace.orgs(name), key: month, value: org.json.bytes),
            StateRow(namespace: DigestSpace.pending(name), key: month, value: nil),
        ] + parts.map { StateRow(namespace: $0.namespace, key: $0.key, value: nil) }
        if let topic = configuration.digests.topic {
            commit.outbox.append(OutboxRow(
                id: "kafka:\(topic)#org:\(month)", kind: "digest", topic: "kafka:" + topic, key: Array("org:\(month)".utf8),
                value: org.json.bytes,
                headers: [OutboxHeader(key: "consentinel-digest", value: Array("org".utf8)),
                          OutboxHeader(key: "consentinel-month", value: Array(month.utf8))]))
        }
        try await store.commit(commit, pipeline: name)
        metrics.monthClosed()
        logger.info("month closed", metadata: ["month": "\(month)", "subjects": "\(org.subjects)", "partitions": "\(parts.count)"])
    }

    /// Counts the keyed tasks' violations that no partition applied (their subject had no digest in any partition
    /// that month: a deadline keyed by another field that fires in a month without the subject's events): the subject
    /// digests they change or make, stored and sent with the month.
    private func amendLeftovers(
        _ month: String, org: inout OrgDigest, commit: inout BatchCommit
    ) async throws -> [(subject: String, line: [UInt8])] {
        let name = pipeline.name
        let namespace = KeyedSpace.amendments(name, month: month)
        var amended: [String: SubjectDigest] = [:]
        for row in try await store.loadGlobal(namespace: namespace) {
            let a = try DigestAmendment(row: StateChange(row))
            if amended[a.subject] == nil {
                if let stored = try await store.loadGlobal(namespace: DigestSpace.subjects(name, month: month), key: a.subject) {
                    amended[a.subject] = try SubjectDigest(jsonText: String(decoding: stored, as: UTF8.self), origin: "digest \(a.subject)")
                } else {
                    amended[a.subject] = SubjectDigest(subject: a.subject, month: month)
                    org.subjects += 1
                }
            }
            if amended[a.subject]!.violationTotal == 0 { org.subjectsWithViolations += 1 }
            amended[a.subject]!.recordViolation(rule: a.facts.rule)
            org.count(a.facts)
            commit.global.append(StateRow(namespace: namespace, key: row.key, value: nil))
        }
        var lines: [(subject: String, line: [UInt8])] = []
        for digest in amended.values {
            let line = digest.jsonBytes
            commit.global.append(StateRow(namespace: DigestSpace.subjects(name, month: month), key: digest.subject, value: line))
            if let topic = configuration.digests.topic.map({ "kafka:" + $0 }) {
                commit.outbox.append(subjectDigestRow(digest, month: month, topic: topic, line: line))
            }
            lines.append((digest.subject, line))
        }
        return lines
    }

    func subjectDigestRow(_ digest: SubjectDigest, month: String, topic: String, line: [UInt8]) -> OutboxRow {
        OutboxRow(id: "\(topic)#digest:\(month):\(digest.subject)", kind: "digest", topic: topic,
                  key: Array(digest.subject.utf8), value: line,
                  headers: [OutboxHeader(key: "consentinel-digest", value: Array("subject".utf8)),
                            OutboxHeader(key: "consentinel-month", value: Array(month.utf8))])
    }

    /// `DIR/YYYY-MM/subjects.jsonl` (sorted by subject, byte order) and `org.json`, as a replay writes them; each
    /// file replaced whole, so a reader never sees half of one. The month's stored digests are read a page at a time
    /// (a million customers' lines would not fit in memory at once) and merged with the amended ones.
    private func writeMonth(
        _ month: String, org: OrgDigest, amended: [(subject: String, line: [UInt8])], to directory: String
    ) async throws {
        let precedes: (String, String) -> Bool = { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let amended = amended.sorted { precedes($0.subject, $1.subject) }
        var next = 0
        let file = try DigestFolder.MonthFile(folder: DigestFolder(directory: directory), month: month)
        var after: String?
        while true {
            let page = try await store.loadGlobal(namespace: DigestSpace.subjects(pipeline.name, month: month), after: after,
                                                  limit: digestPageSize)
            for row in page {
                while next < amended.count, precedes(amended[next].subject, row.key) {
                    try file.write(amended[next].line)
                    next += 1
                }
                if next < amended.count, amended[next].subject.utf8.elementsEqual(row.key.utf8) {
                    try file.write(amended[next].line)
                    next += 1
                } else {
                    try file.write(row.value ?? [])
                }
            }
            guard page.count == digestPageSize, let last = page.last else { break }
            after = last.key
        }
        for rest in amended[next...] { try file.write(rest.line) }
        try file.finish(org: org)
    }
}
