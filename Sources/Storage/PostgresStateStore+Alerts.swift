import Foundation
import Logging
import PostgresNIO

extension PostgresStateStore {
    static let alertMigration = [
        """
        CREATE TABLE alerts (
            seq bigserial NOT NULL UNIQUE, id text PRIMARY KEY, destination text NOT NULL, group_key text NOT NULL,
            value bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), not_before timestamptz,
            attempts integer NOT NULL DEFAULT 0, last_error text, sent_at timestamptz, failed_at timestamptz)
        """,
        "CREATE INDEX alerts_pending ON alerts (destination, seq) WHERE sent_at IS NULL AND failed_at IS NULL",
        "CREATE TABLE leases (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL)",
    ]

    /// `v3-alerts-set-aside`: alerts over their channel's `max_queue` are kept but set aside, then reported once.
    static let alertSetAsideMigration = [
        "ALTER TABLE alerts ADD COLUMN set_aside_at timestamptz, ADD COLUMN set_aside_reported_at timestamptz"
    ]

    /// Inserts alerts queued at `at`: the daemon's clock, which the aggregation windows compare with (not the
    /// database's `now()`).
    static func insertAlerts(_ alerts: [AlertRow], at: Date, _ connection: PostgresConnection, logger: Logger) async throws {
        guard !alerts.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO alerts (id, destination, group_key, value, not_before, created_at)
            SELECT a.id, a.destination, a.group_key, a.value,
                   CASE WHEN a.not_before < 0 THEN NULL ELSE to_timestamp(a.not_before) END, \(at)
            FROM unnest(\(alerts.map(\.id))::text[], \(alerts.map(\.destination))::text[],
                        \(alerts.map(\.group))::text[], \(alerts.map { ByteBuffer(bytes: $0.value) })::bytea[],
                        \(alerts.map { $0.notBefore?.timeIntervalSince1970 ?? -1 })::float8[])
                 WITH ORDINALITY AS a(id, destination, group_key, value, not_before, ord)
            ORDER BY a.ord
            ON CONFLICT (id) DO NOTHING
            """, logger: logger)
    }

    public func pendingAlerts(destination: String, limit: Int, now: Date) async throws(StorageError) -> [QueuedAlert] {
        let logger = logger
        return try await connection("read the alert queue") { connection in
            var alerts: [QueuedAlert] = []
            let rows = try await connection.query(
                """
                SELECT id, group_key, value, not_before, created_at, attempts FROM alerts
                WHERE destination = \(destination) AND sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
                  AND (not_before IS NULL OR not_before <= \(now))
                ORDER BY seq LIMIT \(max(0, limit))
                """, logger: logger)
            for try await (id, group, value, notBefore, createdAt, attempts) in rows.decode(
                (String, String, ByteBuffer, Date?, Date, Int32).self)
            {
                alerts.append(
                    QueuedAlert(
                        row: AlertRow(
                            id: id, destination: destination, group: group, value: Array(value.readableBytesView),
                            notBefore: notBefore),
                        queuedAt: createdAt, attempts: Int(attempts)))
            }
            return alerts
        }
    }

    public func enqueueAlerts(_ rows: [AlertRow], at: Date) async throws(StorageError) {
        let logger = logger
        try await connection("queue alerts") { connection in
            try await Self.insertAlerts(rows, at: at, connection, logger: logger)
        }
    }

    public func markAlertsDelivered(_ ids: [String]) async throws(StorageError) {
        try await updateAlerts(ids, "mark alerts delivered") { ids in
            """
            UPDATE alerts SET sent_at = now()
            WHERE id = ANY(\(ids)::text[]) AND sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
            """
        }
    }

    public func deferAlerts(_ ids: [String], until: Date, error: String) async throws(StorageError) {
        try await updateAlerts(ids, "defer alerts") { ids in
            """
            UPDATE alerts SET attempts = attempts + 1, not_before = \(until), last_error = \(error)
            WHERE id = ANY(\(ids)::text[]) AND sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
            """
        }
    }

    public func rejectAlerts(_ ids: [String], error: String) async throws(StorageError) {
        try await updateAlerts(ids, "reject alerts") { ids in
            """
            UPDATE alerts SET attempts = attempts + 1, failed_at = now(), last_error = \(error)
            WHERE id = ANY(\(ids)::text[]) AND sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
            """
        }
    }

    public func alertDepths(now: Date) async throws(StorageError) -> [String: Int] {
        let logger = logger
        let resolves = alertResolvePrefix + "%"
        return try await connection("count the alert queue") { connection in
            var depths: [String: Int] = [:]
            let rows = try await connection.query(
                """
                SELECT destination, count(*) FROM alerts
                WHERE sent_at IS NULL AND failed_at IS NULL AND set_aside_at IS NULL
                  AND NOT (group_key LIKE \(resolves) AND not_before IS NOT NULL AND not_before > \(now))
                GROUP BY destination
                """, logger: logger)
            for try await (destination, count) in rows.decode((String, Int64).self) { depths[destination] = Int(count) }
            return depths
        }
    }

    @discardableResult
    public func setAsideAlerts(destination: String, keep: Int, at: Date) async throws(StorageError) -> Int {
        let logger = logger
        let resolves = alertResolvePrefix + "%"
        return try await connection("set alerts aside") { connection in
            try await Self.count(
                connection,
                """
                WITH u AS (
                    UPDATE alerts SET set_aside_at = \(at) WHERE seq IN (
                        SELECT seq FROM alerts
                        WHERE destination = \(destination) AND sent_at IS NULL AND failed_at IS NULL
                          AND set_aside_at IS NULL AND group_key NOT LIKE \(resolves)
                        ORDER BY seq OFFSET \(max(0, keep)))
                    RETURNING 1)
                SELECT count(*) FROM u
                """, logger: logger)
        }
    }

    public func setAsideSummary(destination: String) async throws(StorageError) -> SetAsideSummary? {
        let logger = logger
        return try await connection("count the alerts set aside") { connection in
            let rows = try await connection.query(
                """
                SELECT count(*), min(set_aside_at), max(set_aside_at), max(seq) FROM alerts
                WHERE destination = \(destination) AND set_aside_at IS NOT NULL AND set_aside_reported_at IS NULL
                """, logger: logger)
            var summary: SetAsideSummary?
            for try await (count, first, last, seq) in rows.decode((Int64, Date?, Date?, Int64?).self) {
                if count > 0, let first, let last, let seq {
                    summary = SetAsideSummary(count: Int(count), first: first, last: last, lastSeq: seq)
                }
            }
            return summary
        }
    }

    public func markSetAsideReported(destination: String, through lastSeq: Int64) async throws(StorageError) {
        let logger = logger
        try await connection("mark alerts set aside reported") { connection in
            _ = try await connection.query(
                """
                UPDATE alerts SET set_aside_reported_at = now()
                WHERE destination = \(destination) AND set_aside_at IS NOT NULL AND set_aside_reported_at IS NULL
                  AND seq <= \(lastSeq)
                """, logger: logger)
        }
    }

    @discardableResult
    public func pruneDeliveredAlerts(before date: Date) async throws(StorageError) -> Int {
        let logger = logger
        return try await connection("prune the alert queue") { connection in
            try await Self.count(
                connection, "WITH d AS (DELETE FROM alerts WHERE sent_at < \(date) RETURNING 1) SELECT count(*) FROM d",
                logger: logger)
        }
    }

    public func acquireLease(_ name: String, owner: String, seconds: Int) async throws(StorageError) -> Bool {
        let logger = logger
        return try await connection("take lease \(name)") { connection in
            let rows = try await connection.query(
                """
                INSERT INTO leases (name, owner, expires_at) VALUES (\(name), \(owner), now() + make_interval(secs => \(seconds)))
                ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                WHERE leases.owner = EXCLUDED.owner OR leases.expires_at < now()
                RETURNING owner
                """, logger: logger)
            var taken = false
            for try await _ in rows.decode(String.self) { taken = true }
            return taken
        }
    }

    private func updateAlerts(
        _ ids: [String], _ what: String, _ query: @Sendable ([String]) -> PostgresQuery
    ) async throws(StorageError) {
        guard !ids.isEmpty else { return }
        let logger = logger
        try await connection(what) { connection in _ = try await connection.query(query(ids), logger: logger) }
    }
}
