import Foundation
import Logging
import PostgresNIO

/// The shared state store: PostgreSQL through postgres-nio's `PostgresClient` (a connection pool), for several
/// instances sharing the work. Partition state is keyed by (pipeline, topic, partition, namespace, key), so whichever
/// instance owns a partition loads it.
///
/// The store owns the client's `run()` task: `init` starts it, `close()` cancels it and waits for the pool to shut
/// down. Each commit is one transaction that locks its partition rows (`SELECT … FOR UPDATE`, in a fixed order) to
/// check the fence.
public final class PostgresStateStore: StateStore {
    public let outboxSignal = OutboxSignal()
    public let location: PostgresLocation
    let client: PostgresClient
    private let runTask: Task<Void, Never>
    let logger: Logger

    /// The named, versioned migrations, in order; recorded in the table `consentinel_migrations`.
    static let migrations: [(name: String, statements: [String])] = [
        (
            "v1-partitions",
            [
                """
                CREATE TABLE partitions (
                    pipeline text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
                    epoch bigint NOT NULL, next_offset bigint,
                    PRIMARY KEY (pipeline, topic, partition))
                """
            ]
        ),
        (
            "v1-state",
            [
                """
                CREATE TABLE state (
                    pipeline text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
                    namespace text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, value bytea NOT NULL,
                    PRIMARY KEY (pipeline, topic, partition, namespace, key))
                """
            ]
        ),
        (
            "v1-outbox",
            [
                """
                CREATE TABLE outbox (
                    seq bigserial NOT NULL UNIQUE, id text PRIMARY KEY, kind text NOT NULL, topic text NOT NULL,
                    key bytea, value bytea NOT NULL, headers bytea NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz)
                """,
                "CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL",
            ]
        ),
        (
            "v1-global",
            [
                """
                CREATE TABLE global_state (
                    namespace text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, value bytea NOT NULL,
                    PRIMARY KEY (namespace, key))
                """
            ]
        ),
        ("v2-outbox-lease", ["ALTER TABLE outbox ADD COLUMN lease_owner text, ADD COLUMN lease_until timestamptz"]),
        ("v2-alerts", alertMigration),
        ("v3-alerts-set-aside", alertSetAsideMigration),
    ]

    /// The names of the migrations this version registers, in order.
    public static var migrationNames: [String] { migrations.map(\.name) }

    /// Connects with a URL such as `postgres://user:password@127.0.0.1:5432/db` (see `PostgresLocation`) and
    /// migrates the schema. Fails with `.connection` when the server cannot be reached within the connect timeout,
    /// `.schema` when a newer version migrated the database.
    public convenience init(url: String, logger: Logger = Logger(label: StorageLog.label)) async throws(StorageError) {
        try await self.init(location: try PostgresLocation(url), logger: logger)
    }

    public init(location: PostgresLocation, logger: Logger = Logger(label: StorageLog.label)) async throws(StorageError) {
        var tagged = logger
        tagged[metadataKey: StorageLog.backend] = "postgres"
        tagged[metadataKey: StorageLog.host] = "\(location.host):\(location.port)"
        let logger = tagged
        self.location = location
        self.logger = logger
        // Migrate over one connection of our own first: a refused connection or password fails here at once, with
        // the server's reason (the pool would keep retrying until the timeout).
        try await Self.withTimeout(seconds: 3 * location.connectTimeoutSeconds, location: location) {
            let connection = try await PostgresConnection.connect(
                configuration: try Self.connectionConfiguration(location), id: 0, logger: logger)
            do {
                try await Self.migrate(connection, location: location, logger: logger)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        }
        let client = PostgresClient(configuration: Self.configuration(location), backgroundLogger: logger)
        self.client = client
        runTask = Task { await client.run() }
    }

    static func tlsConfiguration(_ mode: PostgresLocation.TLSMode) -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none  // as libpq's sslmode
        case .verifyFull: break
        }
        return configuration
    }

    /// The pool's configuration.
    static func configuration(_ location: PostgresLocation) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch (location.tls, tlsConfiguration(location.tls)) {
            case (.prefer, let config?): .prefer(config)
            case (.require, let config?), (.verifyFull, let config?): .require(config)
            default: .disable
            }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(location.connectTimeoutSeconds)
        configuration.options.maximumConnections = location.poolSize
        configuration.options.additionalStartupParameters = startupParameters(location)
        return configuration
    }

    /// The configuration of a single connection (for migrations), the same as the pool's.
    static func connectionConfiguration(_ location: PostgresLocation) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            switch (location.tls, try tlsConfiguration(location.tls).map { try NIOSSLContext(configuration: $0) }) {
            case (.prefer, let context?): .prefer(context)
            case (.require, let context?), (.verifyFull, let context?): .require(context)
            default: .disable
            }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeoutSeconds))
        configuration.options.additionalStartupParameters = startupParameters(location)
        return configuration
    }

    /// A schema is set as the connection's search path, so that every statement finds the tables there.
    static func startupParameters(_ location: PostgresLocation) -> [(String, String)] {
        location.schema.map { [("search_path", $0)] } ?? []
    }

    static func withTimeout(
        seconds: Int, location: PostgresLocation, _ body: @escaping @Sendable () async throws -> Void
    ) async throws(StorageError) {
        try await mapErrors({ classify($0, "connect to \(location)") }) {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await body()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(seconds))
                    return false
                }
                let finished = try await group.next()!
                group.cancelAll()
                if !finished {
                    throw StorageError(.connection, "could not connect to \(location) within \(seconds) s")
                }
            }
        }
    }

    static func migrate(_ connection: PostgresConnection, location: PostgresLocation, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            // One migrating instance at a time (any schema of this database).
            try await connection.query("SELECT pg_advisory_xact_lock(7355608420931)", logger: logger)
            if let schema = location.schema {
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)", logger: logger)
            }
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS consentinel_migrations (
                    version integer PRIMARY KEY, name text NOT NULL UNIQUE,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: [(Int32, String)] = []
            let rows = try await connection.query(
                "SELECT version, name FROM consentinel_migrations ORDER BY version", logger: logger)
            for try await row in rows.decode((Int32, String).self) { applied.append(row) }
            for (version, name) in applied {
                let index = Int(version) - 1
                guard migrations.indices.contains(index), migrations[index].name == name else {
                    throw StorageError(
                        .schema,
                        "\(location) has migration \(version) \(name), unknown to this version of Consentinel "
                            + "(it knows \(migrationNames.joined(separator: ", ")))")
                }
            }
            for (index, migration) in migrations.enumerated() where index >= applied.count {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let version = Int32(index + 1)
                try await connection.query(
                    "INSERT INTO consentinel_migrations (version, name) VALUES (\(version), \(migration.name))",
                    logger: logger)
                logger.info("applied migration \(migration.name)")
            }
        }
    }

    // MARK: StateStore

    public func claim(_ partition: PartitionID, pipeline: String) async throws(StorageError) -> PartitionClaim {
        let logger = logger
        return try await transaction("claim \(partition)") { connection in
            let rows = try await connection.query(
                """
                INSERT INTO partitions (pipeline, topic, partition, epoch, next_offset)
                VALUES (\(pipeline), \(partition.topic), \(partition.partition), 1, NULL)
                ON CONFLICT (pipeline, topic, partition) DO UPDATE SET epoch = partitions.epoch + 1
                RETURNING epoch, next_offset
                """, logger: logger)
            var stored: (epoch: Int64, nextOffset: Int64?)?
            for try await row in rows.decode((Int64, Int64?).self) { stored = row }
            guard let stored else { throw StorageError(.io, "claim of \(partition) returned no row") }
            var state: [StateRow] = []
            let stateRows = try await connection.query(
                """
                SELECT namespace, key, value FROM state
                WHERE pipeline = \(pipeline) AND topic = \(partition.topic) AND partition = \(partition.partition)
                ORDER BY namespace, key
                """, logger: logger)
            for try await (namespace, key, value) in stateRows.decode((String, String, ByteBuffer).self) {
                state.append(StateRow(namespace: namespace, key: key, value: Array(value.readableBytesView)))
            }
            return PartitionClaim(partition: partition, nextOffset: stored.nextOffset, epoch: stored.epoch, state: state)
        }
    }

    public func commit(_ batch: BatchCommit, pipeline: String) async throws(StorageError) {
        let plan = try BatchPlan(batch)
        let logger = logger
        let handOver = plan.outbox.isEmpty ? nil : outboxSignal.handOverLease
        let leasedSince = ContinuousClock.now
        let inserted = try await transaction("commit") { connection -> [(Int64, String)] in
            for partition in plan.partitions {
                let (topic, number) = (partition.id.topic, partition.id.partition)
                let rows = try await connection.query(
                    """
                    SELECT epoch, next_offset FROM partitions
                    WHERE pipeline = \(pipeline) AND topic = \(topic) AND partition = \(number) FOR UPDATE
                    """, logger: logger)
                var stored: (epoch: Int64, nextOffset: Int64?)?
                for try await row in rows.decode((Int64, Int64?).self) { stored = row }
                guard let stored else { throw StorageError(.fenced, "\(partition.id) of \(pipeline) was never claimed") }
                try Fence.check(partition, epoch: stored.epoch, offset: stored.nextOffset, pipeline: pipeline)
                try await connection.query(
                    """
                    UPDATE partitions SET next_offset = \(partition.fence.nextOffset)
                    WHERE pipeline = \(pipeline) AND topic = \(topic) AND partition = \(number)
                    """, logger: logger)
                let changes = partition.changes
                if !changes.upserts.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO state (pipeline, topic, partition, namespace, key, value)
                        SELECT \(pipeline), \(topic), \(number), u.namespace, u.key, u.value
                        FROM unnest(\(changes.upserts.map(\.namespace))::text[], \(changes.upserts.map(\.key))::text[],
                                    \(changes.upserts.map { ByteBuffer(bytes: $0.value) })::bytea[])
                             AS u(namespace, key, value)
                        ON CONFLICT (pipeline, topic, partition, namespace, key) DO UPDATE SET value = EXCLUDED.value
                        """, logger: logger)
                }
                if !changes.deletes.isEmpty {
                    try await connection.query(
                        """
                        DELETE FROM state s
                        USING unnest(\(changes.deletes.map(\.namespace))::text[], \(changes.deletes.map(\.key))::text[])
                              AS d(namespace, key)
                        WHERE s.pipeline = \(pipeline) AND s.topic = \(topic) AND s.partition = \(number)
                          AND s.namespace = d.namespace AND s.key = d.key
                        """, logger: logger)
                }
            }
            if !plan.global.upserts.isEmpty {
                let upserts = plan.global.upserts
                try await connection.query(
                    """
                    INSERT INTO global_state (namespace, key, value)
                    SELECT * FROM unnest(\(upserts.map(\.namespace))::text[], \(upserts.map(\.key))::text[],
                                         \(upserts.map { ByteBuffer(bytes: $0.value) })::bytea[])
                    ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value
                    """, logger: logger)
            }
            if !plan.global.deletes.isEmpty {
                let deletes = plan.global.deletes
                try await connection.query(
                    """
                    DELETE FROM global_state g
                    USING unnest(\(deletes.map(\.namespace))::text[], \(deletes.map(\.key))::text[]) AS d(namespace, key)
                    WHERE g.namespace = d.namespace AND g.key = d.key
                    """, logger: logger)
            }
            var inserted: [(Int64, String)] = []
            if !plan.outbox.isEmpty {
                let outbox = plan.outbox
                // Under a hand-over lease, the rows inserted come back (an id the outbox holds returns nothing).
                let owner = handOver?.owner
                let milliseconds = handOver?.lease.wholeMilliseconds ?? 0
                let result = try await connection.query(
                    """
                    INSERT INTO outbox (id, kind, topic, key, value, headers, lease_owner, lease_until)
                    SELECT o.id, o.kind, o.topic, CASE WHEN o.has_key THEN o.key END, o.value, o.headers, \(owner)::text,
                           CASE WHEN \(owner)::text IS NULL THEN NULL ELSE now() + \(milliseconds) * interval '1 millisecond' END
                    FROM unnest(\(outbox.map(\.id))::text[], \(outbox.map(\.kind))::text[],
                                \(outbox.map(\.topic))::text[], \(outbox.map { $0.key != nil })::bool[],
                                \(outbox.map { ByteBuffer(bytes: $0.key ?? []) })::bytea[],
                                \(outbox.map { ByteBuffer(bytes: $0.value) })::bytea[],
                                \(outbox.map { ByteBuffer(bytes: HeaderCoding.encode($0.headers)) })::bytea[])
                         WITH ORDINALITY AS o(id, kind, topic, has_key, key, value, headers, ord)
                    ORDER BY o.ord
                    ON CONFLICT (id) DO NOTHING
                    RETURNING seq, id
                    """, logger: logger)
                for try await row in result.decode((Int64, String).self) where handOver != nil { inserted.append(row) }
            }
            try await Self.insertAlerts(plan.alerts, at: Date(), connection, logger: logger)
            return inserted
        }
        if let handOver {
            // Each id is inserted once per batch (a repeated id is ignored): the first row with it is the one stored.
            var byID: [String: OutboxRow] = [:]
            for row in plan.outbox where byID[row.id] == nil { byID[row.id] = row }
            outboxSignal.handOver(
                inserted.sorted { $0.0 < $1.0 }.compactMap { seq, id in byID[id].map { StoredOutboxRow(seq: seq, row: $0) } },
                under: handOver, since: leasedSince)
        }
        if !plan.outbox.isEmpty { outboxSignal.notify() }
    }

    public func unsentOutbox(limit: Int) async throws(StorageError) -> [OutboxRow] {
        let logger = logger
        let rows = try await connection("read the outbox") { connection in
            var rows: [(String, String, String, ByteBuffer?, ByteBuffer, ByteBuffer)] = []
            let result = try await connection.query(
                """
                SELECT id, kind, topic, key, value, headers FROM outbox WHERE sent_at IS NULL ORDER BY seq
                LIMIT \(max(0, limit))
                """, logger: logger)
            for try await row in result.decode((String, String, String, ByteBuffer?, ByteBuffer, ByteBuffer).self) {
                rows.append(row)
            }
            return rows
        }
        var outbox: [OutboxRow] = []
        outbox.reserveCapacity(rows.count)
        for (id, kind, topic, key, value, headers) in rows {
            outbox.append(try Self.outboxRow(id, kind, topic, key, value, headers))
        }
        return outbox
    }

    private static func outboxRow(
        _ id: String, _ kind: String, _ topic: String, _ key: ByteBuffer?, _ value: ByteBuffer, _ headers: ByteBuffer
    ) throws(StorageError) -> OutboxRow {
        OutboxRow(
            id: id, kind: kind, topic: topic, key: key.map { Array($0.readableBytesView) },
            value: Array(value.readableBytesView), headers: try HeaderCoding.decode(Array(headers.readableBytesView)))
    }

    public func leaseOutbox(limit: Int, owner: String, for duration: Duration) async throws(StorageError) -> [StoredOutboxRow] {
        let logger = logger
        let milliseconds = duration.wholeMilliseconds
        let rows = try await connection("lease outbox rows") { connection in
            var rows: [(Int64, String, String, String, ByteBuffer?, ByteBuffer, ByteBuffer)] = []
            // SKIP LOCKED: two instances leasing at once take different rows instead of waiting for each other.
            let result = try await connection.query(
                """
                UPDATE outbox o SET lease_owner = \(owner), lease_until = now() + \(milliseconds) * interval '1 millisecond'
                FROM (
                    SELECT seq FROM outbox
                    WHERE sent_at IS NULL AND (lease_until IS NULL OR lease_until < now() OR lease_owner = \(owner))
                    ORDER BY seq LIMIT \(max(0, limit)) FOR UPDATE SKIP LOCKED
                ) AS free
                WHERE o.seq = free.seq
                RETURNING o.seq, o.id, o.kind, o.topic, o.key, o.value, o.headers
                """, logger: logger)
            for try await row in result.decode((Int64, String, String, String, ByteBuffer?, ByteBuffer, ByteBuffer).self) {
                rows.append(row)
            }
            return rows.sorted { $0.0 < $1.0 }
        }
        var outbox: [StoredOutboxRow] = []
        outbox.reserveCapacity(rows.count)
        for (seq, id, kind, topic, key, value, headers) in rows {
            outbox.append(StoredOutboxRow(seq: seq, row: try Self.outboxRow(id, kind, topic, key, value, headers)))
        }
        return outbox
    }

    public func markSent(_ ids: [String]) async throws(StorageError) {
        guard !ids.isEmpty else { return }
        let logger = logger
        try await connection("mark outbox rows sent") { connection in
            _ = try await connection.query(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY(\(ids)::text[]) AND sent_at IS NULL", logger: logger)
        }
    }

    public func markSent(seqs: [Int64]) async throws(StorageError) {
        guard !seqs.isEmpty else { return }
        let logger = logger
        try await connection("mark outbox rows sent") { connection in
            _ = try await connection.query(
                "UPDATE outbox SET sent_at = now() WHERE seq = ANY(\(seqs)::bigint[]) AND sent_at IS NULL", logger: logger)
        }
    }

    public func outboxDepth() async throws(StorageError) -> Int {
        let logger = logger
        return try await connection("count the outbox") { connection in
            try await Self.count(connection, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", logger: logger)
        }
    }

    @discardableResult
    public func pruneSent(before date: Date) async throws(StorageError) -> Int {
        let logger = logger
        return try await connection("prune the outbox") { connection in
            try await Self.count(
                connection,
                "WITH d AS (DELETE FROM outbox WHERE sent_at < \(date) RETURNING 1) SELECT count(*) FROM d",
                logger: logger)
        }
    }

    public func loadGlobal(namespace: String) async throws(StorageError) -> [StateRow] {
        try await globalRows(namespace, "SELECT key, value FROM global_state WHERE namespace = \(namespace) ORDER BY key")
    }

    public func loadGlobal(namespace: String, key: String) async throws(StorageError) -> [UInt8]? {
        let logger = logger
        return try await connection("load global \(namespace)") { connection in
            let result = try await connection.query(
                "SELECT value FROM global_state WHERE namespace = \(namespace) AND key = \(key)", logger: logger)
            for try await value in result.decode(ByteBuffer.self) { return Array(value.readableBytesView) }
            return nil
        }
    }

    public func loadGlobal(namespace: String, before key: String, limit: Int) async throws(StorageError) -> [StateRow] {
        try await globalRows(
            namespace, "SELECT key, value FROM global_state WHERE namespace = \(namespace) AND key < \(key) ORDER BY key LIMIT \(limit)")
    }

    public func loadGlobal(namespace: String, after key: String?, limit: Int) async throws(StorageError) -> [StateRow] {
        guard let key else {
            return try await globalRows(
                namespace, "SELECT key, value FROM global_state WHERE namespace = \(namespace) ORDER BY key LIMIT \(limit)")
        }
        return try await globalRows(
            namespace, "SELECT key, value FROM global_state WHERE namespace = \(namespace) AND key > \(key) ORDER BY key LIMIT \(limit)")
    }

    /// The rows `query` selects (key, value) from the global rows of `namespace`.
    private func globalRows(_ namespace: String, _ query: PostgresQuery) async throws(StorageError) -> [StateRow] {
        let logger = logger
        return try await connection("load global \(namespace)") { connection in
            var rows: [StateRow] = []
            for try await (key, value) in try await connection.query(query, logger: logger).decode((String, ByteBuffer).self) {
                rows.append(StateRow(namespace: namespace, key: key, value: Array(value.readableBytesView)))
            }
            return rows
        }
    }

    public func close() async {
        runTask.cancel()
        await runTask.value
    }

    // MARK: Scoped database access

    static func count(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws -> Int
    {
        var count: Int64 = 0
        for try await (value) in try await connection.query(query, logger: logger).decode(Int64.self) { count = value }
        return Int(count)
    }

    /// A transaction, once begun, runs to its commit or rollback in a task of its own even when the caller's task is
    /// cancelled: abandoned half-way, it would keep its locks (a partition's row, a table a migration waits for) on a
    /// connection that outlives it.
    func transaction<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StorageError) -> T {
        let client = client, logger = logger
        let run = Task { try await client.withTransaction(logger: logger) { connection in try await body(connection) } }
        return try await mapErrors({ Self.classify($0, what) }) { try await run.value }
    }

    func connection<T: Sendable>(
        _ what: String, _ body: (PostgresConnection) async throws -> T
    ) async throws(StorageError) -> T {
        try await mapErrors({ Self.classify($0, what) }) {
            try await client.withConnection { connection in try await body(connection) }
        }
    }

    static func classify(_ error: any Error, _ what: String) -> StorageError {
        var error = error
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
                error = inner
            }
            if let inner = error as? StorageError { return inner }
        }
        guard let error = error as? PSQLError else {
            if error is CancellationError { return StorageError(.connection, "cannot \(what): cancelled") }
            // postgres-nio's pool throws its own (internal) error type when it is shut down or cannot connect.
            if String(reflecting: type(of: error)).contains("ConnectionPoolError") {
                return StorageError(.connection, "cannot \(what): \(error)")
            }
            return StorageError(.io, "cannot \(what): \(error)")
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?????"
            let message = "cannot \(what): \(error.serverInfo?[.message] ?? "server error") (SQLSTATE \(state))"
            // 08: connection exception, 28: authorization, 3D: no such database, 57P: shutdown, 53: resources.
            if ["08", "28", "3D", "53", "57"].contains(where: state.hasPrefix) {
                return StorageError(.connection, message)
            }
            if state == "42P01" || state == "42703" { return StorageError(.schema, message) }
            return StorageError(.io, message)
        case .messageDecodingFailure, .unexpectedBackendMessage, .invalidCommandTag, .tooManyParameters,
            .queryCancelled:
            return StorageError(.io, "cannot \(what): \(error.code)")
        default:
            let underlying = error.underlying.map { ": \($0)" } ?? ""
            return StorageError(.connection, "cannot \(what): \(error.code)\(underlying)")
        }
    }
}
