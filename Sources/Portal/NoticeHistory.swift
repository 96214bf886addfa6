import Digests
import Events
import Foundation
import Storage

/// Which notice was in force when: the daemon records the notice of its rules when it starts and when a reload
/// changes them (global rows `notice-versions:<pipeline>`, key the wall-clock time it came into force in microseconds, zero-padded;
/// value the facts' JSON), so
/// that a month's page can say what changed for the customer during that month.
public struct NoticeHistory: Sendable {
    public let store: any StateStore
    public let pipeline: String

    public init(store: any StateStore, pipeline: String) {
        self.store = store
        self.pipeline = pipeline
    }

    var namespace: String { "notice-versions:" + pipeline }

    /// Records `facts` as in force from `time`, unless they are what is in force already.
    public func record(_ facts: PolicyFacts, at time: Timestamp) async throws {
        if let current = try await inForce(before: Timestamp(microseconds: .max)), current == facts { return }
        try await store.commit(
            BatchCommit(global: [StateRow(namespace: namespace, key: time.sortableKey, value: facts.json.bytes)]),
            pipeline: pipeline)
    }

    /// The notice in force just before `time` (nil when none was recorded before it).
    public func inForce(before time: Timestamp) async throws -> PolicyFacts? {
        guard let row = try await store.loadGlobal(namespace: namespace, before: time.sortableKey, limit: 100_000).last,
              let value = row.value else { return nil }
        return try PolicyFacts(jsonText: String(decoding: value, as: UTF8.self), origin: "notice \(row.key)")
    }

    /// The notices at the start and at the end of a month (`YYYY-MM`), when they differ.
    public func change(inMonth month: String) async throws -> (before: PolicyFacts, after: PolicyFacts)? {
        guard let start = Timestamp(rfc3339: month + "-01T00:00:00Z") else { return nil }
        guard let before = try await inForce(before: start), let after = try await inForce(before: start.startOfNextMonth),
              before != after else { return nil }
        return (before, after)
    }
}

extension Timestamp {
    /// Microseconds since the epoch, zero-padded, so that keys sort as times do.
    var sortableKey: String {
        let digits = String(Swift.max(0, microseconds))
        return String(repeating: "0", count: Swift.max(0, 20 - digits.count)) + digits
    }
}
