import Foundation
import GRDB

extension SQLiteStateStore {
    public func pendingAlerts(destination: String, limit: Int, now: Date) async throws(StorageError) -> [QueuedAlert] {
        try await read("read the alert queue") { db in
            try AlertRecord.pending.filter(Column("destination") == destination)
                .filter(Column("not_before") == nil || Column("not_before") <= now)
                .order(Column("seq")).limit(max(0, limit)).fetchAll(db).map(\.queued)
        }
    }

    public func enqueueAlerts(_ rows: [AlertRow], at now: Date) async throws(StorageError) {
        guard !rows.isEmpty else { return }
        try await immediateWrite("queue alerts") { db in
            for row in rows { try AlertRecord(row, queuedAt: now).insert(db, onConflict: .ignore) }
        }
    }

    public func markAlertsDelivered(_ ids: [String]) async throws(StorageError) {
        let now = Date()
        try await updateAlerts(ids, "mark alerts delivered") { try $0.updateAll($1, Column("sent_at").set(to: now)) }
    }

    public func deferAlerts(_ ids: [String], until: Date, error: String) async throws(StorageError) {
        try await updateAlerts(ids, "defer alerts") { request, db in
            try request.updateAll(
                db, Column("attempts") += 1, Column("not_before").set(to: until), Column("last_error").set(to: error))
        }
    }

    public func rejectAlerts(_ ids: [String], error: String) async throws(StorageError) {
        let now = Date()
        try await updateAlerts(ids, "reject alerts") { request, db in
            try request.updateAll(
                db, Column("attempts") += 1, Column("failed_at").set(to: now), Column("last_error").set(to: error))
        }
    }

    public func alertDepths(now: Date) async throws(StorageError) -> [String: Int] {
        try await read("count the alert queue") { db in
            var depths: [String: Int] = [:]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT destination, count(*) FROM alerts
                    WHERE sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
                      AND NOT (group_key LIKE ? AND not_before IS NOT NULL AND not_before > ?)
                    GROUP BY destination
                    """, arguments: [alertResolvePrefix + "%", now])
            for row in rows {
                let destination: String = row[0]
                let count: Int = row[1]
                depths[destination] = count
            }
            return depths
        }
    }

    @discardableResult
    public func setAsideAlerts(destination: String, keep: Int, at now: Date) async throws(StorageError) -> Int {
        try await immediateWrite("set alerts aside") { db in
            try db.execute(
                sql: """
                    UPDATE alerts SET set_aside_at = ? WHERE seq IN (
                        SELECT seq FROM alerts
                        WHERE destination = ? AND sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
                          AND group_key NOT LIKE ?
                        ORDER BY seq LIMIT -1 OFFSET ?)
                    """, arguments: [now, destination, alertResolvePrefix + "%", max(0, keep)])
            return db.changesCount
        }
    }

    public func setAsideSummary(destination: String) async throws(StorageError) -> SetAsideSummary? {
        try await read("count the alerts set aside") { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT count(*), min(set_aside_at), max(set_aside_at), max(seq) FROM alerts
                        WHERE destination = ? AND set_aside_at IS NOT NULL AND set_aside_reported_at IS NULL
                        """, arguments: [destination])
            else { return nil }
            let count: Int = row[0]
            guard count > 0, let first: Date = row[1], let last: Date = row[2], let seq: Int64 = row[3] else { return nil }
            return SetAsideSummary(count: count, first: first, last: last, lastSeq: seq)
        }
    }

    public func markSetAsideReported(destination: String, through lastSeq: Int64) async throws(StorageError) {
        let now = Date()
        try await immediateWrite("mark alerts set aside reported") { db in
            try db.execute(
                sql: """
                    UPDATE alerts SET set_aside_reported_at = ?
                    WHERE destination = ? AND set_aside_at IS NOT NULL AND set_aside_reported_at IS NULL AND seq <= ?
                    """, arguments: [now, destination, lastSeq])
        }
    }

    @discardableResult
    public func pruneDeliveredAlerts(before date: Date) async throws(StorageError) -> Int {
        try await immediateWrite("prune the alert queue") { db in
            try AlertRecord.filter(Column("sent_at") != nil && Column("sent_at") < date).deleteAll(db)
        }
    }

    public func acquireLease(_ name: String, owner: String, seconds: Int) async throws(StorageError) -> Bool {
        let now = Date()
        let until = now.addingTimeInterval(TimeInterval(seconds))
        return try await immediateWrite("take lease \(name)") { db in
            try db.execute(
                sql: """
                    INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                    WHERE leases.owner = excluded.owner OR leases.expires_at < ?
                    """, arguments: [name, owner, until, now])
            return try String.fetchOne(db, sql: "SELECT owner FROM leases WHERE name = ?", arguments: [name]) == owner
        }
    }

    private func updateAlerts(
        _ ids: [String], _ what: String,
        _ update: @escaping @Sendable (QueryInterfaceRequest<AlertRecord>, Database) throws -> Int
    ) async throws(StorageError) {
        guard !ids.isEmpty else { return }
        try await immediateWrite(what) { db in
            for start in stride(from: 0, to: ids.count, by: 500) {
                _ = try update(AlertRecord.pending.filter(ids[start..<min(start + 500, ids.count)].contains(Column("id"))), db)
            }
        }
    }
}

struct AlertRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "alerts"
    var seq: Int64?
    var id: String
    var destination: String
    var groupKey: String
    var value: Data
    var createdAt: Date
    var notBefore: Date?
    var attempts: Int
    var lastError: String?
    var sentAt: Date?
    var failedAt: Date?

    enum CodingKeys: String, CodingKey {
        case seq, id, destination, value, attempts
        case groupKey = "group_key"
        case createdAt = "created_at"
        case notBefore = "not_before"
        case lastError = "last_error"
        case sentAt = "sent_at"
        case failedAt = "failed_at"
    }

    static var pending: QueryInterfaceRequest<AlertRecord> {
        filter(Column("sent_at") == nil && Column("failed_at") == nil && Column("set_aside_at") == nil)
    }

    init(_ row: AlertRow, queuedAt: Date) {
        seq = nil
        id = row.id
        destination = row.destination
        groupKey = row.group
        value = Data(row.value)
        createdAt = queuedAt
        notBefore = row.notBefore
        attempts = 0
    }

    var queued: QueuedAlert {
        QueuedAlert(
            row: AlertRow(id: id, destination: destination, group: groupKey, value: [UInt8](value), notBefore: notBefore),
            queuedAt: createdAt, attempts: attempts)
    }

    static func migrate(_ db: Database) throws {
        try db.create(table: databaseTableName) { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("destination", .text).notNull()
            t.column("group_key", .text).notNull()
            t.column("value", .blob).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("not_before", .datetime)
            t.column("attempts", .integer).notNull().defaults(to: 0)
            t.column("last_error", .text)
            t.column("sent_at", .datetime)
            t.column("failed_at", .datetime)
        }
        try db.create(
            index: "alerts_pending", on: databaseTableName, columns: ["destination", "seq"],
            condition: Column("sent_at") == nil && Column("failed_at") == nil)
        try db.create(table: "leases") { t in
            t.primaryKey("name", .text)
            t.column("owner", .text).notNull()
            t.column("expires_at", .datetime).notNull()
        }
    }

    /// `v3-alerts-set-aside`: alerts over their channel's `max_queue` are kept but set aside, then reported once.
    static func migrateSetAside(_ db: Database) throws {
        try db.alter(table: databaseTableName) { t in
            t.add(column: "set_aside_at", .datetime)
            t.add(column: "set_aside_reported_at", .datetime)
        }
    }
}
