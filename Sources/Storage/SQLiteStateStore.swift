import Foundation
import GRDB
import GRDBSQLite

/// The embedded state store: one SQLite file in WAL mode (GRDB `DatabasePool`), no server.
///
/// Every commit is one `BEGIN IMMEDIATE` transaction, so commits of several stores (or processes) on one file are
/// serialized by SQLite and the fence is checked under the write lock.
public final class SQLiteStateStore: StateStore {
    public let outboxSignal = OutboxSignal()
    public let path: String
    private let pool: DatabasePool

    /// Opens (or creates) the file and migrates it. Fails with `.schema` when a newer version migrated it.
    public init(path: String) throws(StorageError) {
        self.path = path
        guard sqlite3_libversion_number() >= Self.oldestSQLite.number else {
            throw StorageError(.io, "the SQLite state store needs SQLite \(Self.oldestSQLite.name) or later (UPDATE … RETURNING); "
                + "this process has \(String(cString: sqlite3_libversion()))")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.label = "consentinel.storage"
        configuration.prepareDatabase { db in
            let kibibytes = db.configuration.readonly ? Self.readerCacheKiB : Self.writerCacheKiB
            try db.execute(sql: "PRAGMA cache_size = -\(kibibytes)")
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.walCheckpointPages)") }
        }
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StorageError(.io, "cannot open SQLite state store \(path): \(error)")
        }
        do {
            if try pool.read({ db in try Self.migrator.hasBeenSuperseded(db) }) {
                throw StorageError(.schema, "\(path) was migrated by a newer version of Consentinel")
            }
            try Self.migrator.migrate(pool)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.schema, "cannot migrate SQLite state store \(path): \(error)")
        }
    }

    /// A date as GRDB stores it (`yyyy-MM-dd HH:mm:ss.SSS`, UTC), for statements bound by hand: the same text that
    /// dates bound through GRDB are compared with.
    static func storedText(_ date: Date) -> String {
        guard case .string(let text) = date.databaseValue.storage else { preconditionFailure("GRDB stores dates as text") }
        return text
    }

    /// The oldest SQLite whose SQL the store uses (`RETURNING`, 3.35).
    static let oldestSQLite = (number: Int32(3_035_000), name: "3.35")

    /// The WAL's size, in pages, at which a commit copies it back into the database file (SQLite's default is 1,000).
    /// A page that commits change again and again (the outbox's last pages, an index's) is copied once per
    /// checkpoint, so fewer checkpoints copy fewer pages.
    static let walCheckpointPages = 8_192

    /// The page cache of the one writing connection, which holds the B-tree pages that commits update.
    static let writerCacheKiB = 16_384
    /// The page cache of each of the pool's reading connections, which load a partition's state once per
    /// assignment and page through a closing month's digests: sequential reads that a cache barely helps.
    static let readerCacheKiB = 2_048

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-partitions") { db in
            try db.create(table: PartitionRecord.databaseTableName) { t in
                t.column("pipeline", .text).notNull()
                t.column("topic", .text).notNull()
                t.column("partition", .integer).notNull()
                t.column("epoch", .integer).notNull()
                t.column("next_offset", .integer)
                t.primaryKey(["pipeline", "topic", "partition"])
            }
        }
        migrator.registerMigration("v1-state") { db in
            try db.create(table: StateRecord.databaseTableName) { t in
                t.column("pipeline", .text).notNull()
                t.column("topic", .text).notNull()
                t.column("partition", .integer).notNull()
                t.column("namespace", .text).notNull()
                t.column("key", .text).notNull()
                t.column("value", .blob).notNull()
                t.primaryKey(["pipeline", "topic", "partition", "namespace", "key"])
            }
        }
        migrator.registerMigration("v1-outbox") { db in
            try db.create(table: OutboxRecord.databaseTableName) { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("id", .text).notNull().unique()
                t.column("kind", .text).notNull()
                t.column("topic", .text).notNull()
                t.column("key", .blob)
                t.column("value", .blob).notNull()
                t.column("headers", .blob).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("sent_at", .datetime)
            }
            try db.create(
                index: "outbox_unsent", on: OutboxRecord.databaseTableName, columns: ["seq"],
                condition: Column("sent_at") == nil)
        }
        migrator.registerMigration("v1-global") { db in
            try db.create(table: GlobalRecord.databaseTableName) { t in
                t.column("namespace", .text).notNull()
                t.column("key", .text).notNull()
                t.column("value", .blob).notNull()
                t.primaryKey(["namespace", "key"])
            }
        }
        migrator.registerMigration("v2-outbox-lease") { db in
            try db.alter(table: OutboxRecord.databaseTableName) { t in
                t.add(column: "lease_owner", .text)
                t.add(column: "lease_until", .datetime)
            }
        }
        migrator.registerMigration("v2-alerts", migrate: AlertRecord.migrate)
        migrator.registerMigration("v3-alerts-set-aside", migrate: AlertRecord.migrateSetAside)
        return migrator
    }()

    /// The names of the migrations this version registers, in order.
    public static var migrationNames: [String] { migrator.migrations }

    // MARK: StateStore

    public func claim(_ partition: PartitionID, pipeline: String) async throws(StorageError) -> PartitionClaim {
        try await immediateWrite("claim \(partition)") { db in
            let key = PartitionRecord.key(pipeline, partition)
            var record = try PartitionRecord.fetchOne(db, key: key)
                ?? PartitionRecord(
                    pipeline: pipeline, topic: partition.topic, partition: partition.partition, epoch: 0,
                    nextOffset: nil)
            record.epoch += 1
            try record.save(db)
            let state = try StateRecord.filter(partition: partition, pipeline: pipeline)
                .order(Column("namespace"), Column("key"))
                .fetchAll(db)
                .map { StateRow(namespace: $0.namespace, key: $0.key, value: [UInt8]($0.value)) }
            return PartitionClaim(partition: partition, nextOffset: record.nextOffset, epoch: record.epoch, state: state)
        }
    }

    public func commit(_ batch: BatchCommit, pipeline: String) async throws(StorageError) {
        let plan = try BatchPlan(batch)
        let now = Date()
        let handOver = plan.outbox.isEmpty ? nil : outboxSignal.handOverLease
        let leasedSince = ContinuousClock.now
        let inserted = try await immediateWrite("commit") { db -> [StoredOutboxRow] in
            // Rows are written with cached statements bound through SQLite's own calls: batches of thousands of
            // rows are common, and building statements or argument lists for each costs more than running them.
            let claim = try db.cachedStatement(sql: "SELECT epoch, next_offset FROM partitions WHERE pipeline = ? AND topic = ? AND partition = ?")
            let advance = try db.cachedStatement(sql: "UPDATE partitions SET next_offset = ? WHERE pipeline = ? AND topic = ? AND partition = ?")
            let upsert = try BulkStatement(db, """
                INSERT INTO state (pipeline, topic, partition, namespace, key, value) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (pipeline, topic, partition, namespace, key) DO UPDATE SET value = excluded.value
                """)
            let delete = try BulkStatement(
                db, "DELETE FROM state WHERE pipeline = ? AND topic = ? AND partition = ? AND namespace = ? AND key = ?")
            for partition in plan.partitions {
                let id = partition.id
                guard let row = try Row.fetchOne(claim, arguments: [pipeline, id.topic, id.partition]) else {
                    throw StorageError(.fenced, "\(id) of \(pipeline) was never claimed")
                }
                try Fence.check(partition, epoch: row[0], offset: row[1], pipeline: pipeline)
                try advance.execute(arguments: [partition.fence.nextOffset, pipeline, id.topic, id.partition])
                for change in partition.changes.upserts {
                    upsert.bind(1, pipeline); upsert.bind(2, id.topic); upsert.bind(3, Int64(id.partition))
                    upsert.bind(4, change.namespace); upsert.bind(5, change.key); upsert.bind(6, bytes: change.value)
                    try upsert.run()
                }
                for change in partition.changes.deletes {
                    delete.bind(1, pipeline); delete.bind(2, id.topic); delete.bind(3, Int64(id.partition))
                    delete.bind(4, change.namespace); delete.bind(5, change.key)
                    try delete.run()
                }
            }
            if !plan.global.upserts.isEmpty || !plan.global.deletes.isEmpty {
                let upsertGlobal = try BulkStatement(db, """
                    INSERT INTO global_state (namespace, key, value) VALUES (?, ?, ?)
                    ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value
                    """)
                let deleteGlobal = try BulkStatement(db, "DELETE FROM global_state WHERE namespace = ? AND key = ?")
                for change in plan.global.upserts {
                    upsertGlobal.bind(1, change.namespace); upsertGlobal.bind(2, change.key); upsertGlobal.bind(3, bytes: change.value)
                    try upsertGlobal.run()
                }
                for change in plan.global.deletes {
                    deleteGlobal.bind(1, change.namespace); deleteGlobal.bind(2, change.key)
                    try deleteGlobal.run()
                }
            }
            var inserted: [StoredOutboxRow] = []
            if !plan.outbox.isEmpty {
                // Under a hand-over lease, the rows inserted are handed over with their seq (an ignored id changes no row).
                // Not by `RETURNING`, which builds a temporary table for every row.
                let insert = try BulkStatement(db, """
                    INSERT OR IGNORE INTO outbox (id, kind, topic, key, value, headers, created_at, lease_owner, lease_until)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                let created = Self.storedText(now)
                if let handOver {
                    insert.bind(8, handOver.owner)
                    insert.bind(9, Self.storedText(now.addingTimeInterval(handOver.lease.timeInterval)))
                    inserted.reserveCapacity(plan.outbox.count)
                }
                for row in plan.outbox {
                    insert.bind(1, row.id); insert.bind(2, row.kind); insert.bind(3, row.topic)
                    if let key = row.key { insert.bind(4, bytes: key) } else { insert.bindNull(4) }
                    insert.bind(5, bytes: row.value); insert.bind(6, bytes: HeaderCoding.encode(row.headers)); insert.bind(7, created)
                    try insert.run()
                    if handOver != nil, let seq = insert.insertedRowID {
                        inserted.append(StoredOutboxRow(seq: seq, row: row))
                    }
                }
            }
            if !plan.alerts.isEmpty {
                let insert = try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO alerts (id, destination, group_key, value, created_at, not_before, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)")
                for row in plan.alerts {
                    try insert.execute(arguments: [row.id, row.destination, row.group, Data(row.value), now, row.notBefore])
                }
            }
            return inserted
        }
        if let handOver { outboxSignal.handOver(inserted, under: handOver, since: leasedSince) }
        if !plan.outbox.isEmpty { outboxSignal.notify() }
    }

    public func unsentOutbox(limit: Int) async throws(StorageError) -> [OutboxRow] {
        let records = try await read("read the outbox") { db in
            try OutboxRecord.filter(Column("sent_at") == nil).order(Column("seq")).limit(max(0, limit)).fetchAll(db)
        }
        return try OutboxRecord.rows(records)
    }

    public func leaseOutbox(limit: Int, owner: String, for duration: Duration) async throws(StorageError) -> [StoredOutboxRow] {
        let now = Date()
        let until = now.addingTimeInterval(duration.timeInterval)
        return try await immediateWrite("lease outbox rows") { db in
            // One statement: the oldest rows free to lease, leased and returned (in no order, hence `seq`). Read as
            // plain rows (the columns an `OutboxRow` has): decoding whole records costs more than the query.
            let statement = try db.cachedStatement(sql: """
                UPDATE outbox SET lease_owner = ?, lease_until = ?
                WHERE seq IN (SELECT seq FROM outbox
                              WHERE sent_at IS NULL AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)
                              ORDER BY seq LIMIT ?)
                RETURNING seq, id, kind, topic, key, value, headers
                """)
            var records: [StoredOutboxRow] = []
            let cursor = try Row.fetchCursor(statement, arguments: [owner, until, now, owner, max(0, limit)])
            while let r = try cursor.next() {
                let key: Data? = r[4]
                let value: Data = r[5]
                let headers: Data = r[6]
                records.append(StoredOutboxRow(
                    seq: r[0], row: OutboxRow(id: r[1], kind: r[2], topic: r[3], key: key.map { [UInt8]($0) }, value: [UInt8](value),
                                              headers: try HeaderCoding.decode([UInt8](headers)))))
            }
            records.sort { $0.seq < $1.seq }
            return records
        }
    }

    public func markSent(_ ids: [String]) async throws(StorageError) {
        try await markSent(ids, where: "id = ?") { $0.bind(2, $1) }
    }

    /// Consecutive seqs (a round's rows mostly are) are marked by one range each.
    public func markSent(seqs: [Int64]) async throws(StorageError) {
        try await markSent(Self.runs(of: seqs), where: "seq BETWEEN ? AND ?") { statement, run in
            statement.bind(2, run.lowerBound)
            statement.bind(3, run.upperBound)
        }
    }

    /// The seqs as ranges of consecutive numbers, in order (a range holds only seqs given).
    static func runs(of seqs: [Int64]) -> [ClosedRange<Int64>] {
        var runs: [ClosedRange<Int64>] = []
        for seq in Set(seqs).sorted() {
            if let last = runs.last, last.upperBound == seq - 1 {
                runs[runs.count - 1] = last.lowerBound...seq
            } else {
                runs.append(seq...seq)
            }
        }
        return runs
    }

    /// Marks the rows that `condition` selects for each of `keys` sent (its parameters from the second on bound by
    /// `bind`).
    private func markSent<Key: Sendable>(
        _ keys: [Key], where condition: String, bind: @escaping @Sendable (BulkStatement, Key) -> Void
    ) async throws(StorageError) {
        guard !keys.isEmpty else { return }
        let now = Self.storedText(Date())
        try await immediateWrite("mark outbox rows sent") { db in
            let update = try BulkStatement(db, "UPDATE outbox SET sent_at = ? WHERE \(condition) AND sent_at IS NULL")
            for key in keys {
                update.bind(1, now)
                bind(update, key)
                try update.run()
            }
        }
    }

    public func outboxDepth() async throws(StorageError) -> Int {
        try await read("count the outbox") { db in try OutboxRecord.filter(Column("sent_at") == nil).fetchCount(db) }
    }

    @discardableResult
    public func pruneSent(before date: Date) async throws(StorageError) -> Int {
        try await immediateWrite("prune the outbox") { db in
            try OutboxRecord.filter(Column("sent_at") != nil && Column("sent_at") < date).deleteAll(db)
        }
    }

    public func loadGlobal(namespace: String) async throws(StorageError) -> [StateRow] {
        try await read("load global \(namespace)") { db in
            try GlobalRecord.filter(Column("namespace") == namespace).order(Column("key")).fetchAll(db)
                .map { StateRow(namespace: $0.namespace, key: $0.key, value: [UInt8]($0.value)) }
        }
    }

    public func loadGlobal(namespace: String, key: String) async throws(StorageError) -> [UInt8]? {
        try await read("load global \(namespace)") { db in
            try GlobalRecord.filter(Column("namespace") == namespace && Column("key") == key).fetchOne(db).map { [UInt8]($0.value) }
        }
    }

    public func loadGlobal(namespace: String, before key: String, limit: Int) async throws(StorageError) -> [StateRow] {
        try await read("load global \(namespace)") { db in
            try GlobalRecord.filter(Column("namespace") == namespace && Column("key") < key).order(Column("key")).limit(limit)
                .fetchAll(db)
                .map { StateRow(namespace: $0.namespace, key: $0.key, value: [UInt8]($0.value)) }
        }
    }

    public func loadGlobal(namespace: String, after key: String?, limit: Int) async throws(StorageError) -> [StateRow] {
        try await read("load global \(namespace)") { db in
            var request = GlobalRecord.filter(Column("namespace") == namespace)
            if let key { request = request.filter(Column("key") > key) }
            return try request.order(Column("key")).limit(limit).fetchAll(db)
                .map { StateRow(namespace: $0.namespace, key: $0.key, value: [UInt8]($0.value)) }
        }
    }

    public func close() async {
        try? pool.close()
    }

    // MARK: Scoped database access

    func immediateWrite<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(StorageError) -> T {
        try await mapErrors({ error in Self.classify(error, what) }) {
            try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        }
    }

    func read<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(StorageError) -> T {
        try await mapErrors({ error in Self.classify(error, what) }) { try await pool.read(body) }
    }

    static func classify(_ error: any Error, _ what: String) -> StorageError {
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_SCHEMA:
                return StorageError(.schema, "cannot \(what): \(error)")
            case .SQLITE_MISUSE where error.message?.contains("closed") == true:
                return StorageError(.connection, "cannot \(what): the store is closed")
            default:
                return StorageError(.io, "cannot \(what): \(error)")
            }
        }
        return StorageError(.io, "cannot \(what): \(error)")
    }
}

/// The fence check shared by both backends.
enum Fence {
    static func check(
        _ partition: BatchPlan.Partition, epoch: Int64, offset: Int64?, pipeline: String
    ) throws(StorageError) {
        if epoch != partition.fence.epoch {
            throw StorageError(
                .fenced,
                "\(partition.id) of \(pipeline) is owned by epoch \(epoch), not \(partition.fence.epoch)")
        }
        if offset != partition.fence.expectedOffset {
            throw StorageError(
                .fenced,
                "\(partition.id) of \(pipeline) is at offset \(offset.map(String.init) ?? "none"), not "
                    + (partition.fence.expectedOffset.map(String.init) ?? "none"))
        }
    }
}

// MARK: Records

struct PartitionRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "partitions"
    var pipeline: String
    var topic: String
    var partition: Int32
    var epoch: Int64
    var nextOffset: Int64?

    enum CodingKeys: String, CodingKey {
        case pipeline, topic, partition, epoch
        case nextOffset = "next_offset"
    }

    static func key(_ pipeline: String, _ id: PartitionID) -> [String: (any DatabaseValueConvertible)?] {
        ["pipeline": pipeline, "topic": id.topic, "partition": id.partition]
    }
}

struct StateRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "state"
    var pipeline: String
    var topic: String
    var partition: Int32
    var namespace: String
    var key: String
    var value: Data

    static func filter(partition: PartitionID, pipeline: String) -> QueryInterfaceRequest<StateRecord> {
        filter(
            Column("pipeline") == pipeline && Column("topic") == partition.topic
                && Column("partition") == partition.partition)
    }
}

struct GlobalRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "global_state"
    var namespace: String
    var key: String
    var value: Data
}

struct OutboxRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "outbox"
    var seq: Int64?
    var id: String
    var kind: String
    var topic: String
    var key: Data?
    var value: Data
    var headers: Data
    var createdAt: Date
    var sentAt: Date?
    var leaseOwner: String?
    var leaseUntil: Date?

    enum CodingKeys: String, CodingKey {
        case seq, id, kind, topic, key, value, headers
        case createdAt = "created_at"
        case sentAt = "sent_at"
        case leaseOwner = "lease_owner"
        case leaseUntil = "lease_until"
    }

    init(_ row: OutboxRow, createdAt: Date) {
        seq = nil
        id = row.id
        kind = row.kind
        topic = row.topic
        key = row.key.map { Data($0) }
        value = Data(row.value)
        headers = Data(HeaderCoding.encode(row.headers))
        self.createdAt = createdAt
        sentAt = nil
        leaseOwner = nil
        leaseUntil = nil
    }

    static func rows(_ records: [OutboxRecord]) throws(StorageError) -> [OutboxRow] {
        var rows: [OutboxRow] = []
        rows.reserveCapacity(records.count)
        for record in records { rows.append(try record.row()) }
        return rows
    }

    func row() throws(StorageError) -> OutboxRow {
        OutboxRow(
            id: id, kind: kind, topic: topic, key: key.map { [UInt8]($0) }, value: [UInt8](value),
            headers: try HeaderCoding.decode([UInt8](headers)))
    }
}

/// A cached statement run many times in a row, its parameters bound with SQLite's calls (copied at bind time).
struct BulkStatement {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }
    private let connection: OpaquePointer?
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        connection = db.sqliteConnection
        sqlite3_reset(statement.sqliteStatement)
        sqlite3_clear_bindings(statement.sqliteStatement)
    }

    func bind(_ index: Int32, _ text: String) {
        var text = text
        _ = text.withUTF8 { sqlite3_bind_text(handle, index, $0.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, Int32($0.count), Self.transient) }
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }

    func bind(_ index: Int32, bytes: [UInt8]) {
        if bytes.isEmpty {
            sqlite3_bind_zeroblob(handle, index, 0)
        } else {
            _ = bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }
        }
    }

    func bindNull(_ index: Int32) { sqlite3_bind_null(handle, index) }

    /// The rowid the last run inserted, or nil when it changed no row (an `INSERT OR IGNORE` that ignored its row).
    var insertedRowID: Int64? {
        guard let connection, sqlite3_changes(connection) == 1 else { return nil }
        return sqlite3_last_insert_rowid(connection)
    }

    /// Runs the statement with the parameters bound, then resets it for the next row.
    func run() throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code),
                                message: connection.map { String(cString: sqlite3_errmsg($0)) }, sql: statement.sql)
        }
    }
}
