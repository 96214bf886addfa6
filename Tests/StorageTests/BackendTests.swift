import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

@testable import Storage

@Suite("State store URLs")
struct StateStoreURLTests {
    @Test(arguments: [
        ("sqlite:///var/lib/consentinel/state.db", "/var/lib/consentinel/state.db"),
        ("sqlite://relative/state.db", "relative/state.db"),
        ("sqlite:state.db", "state.db"),
        ("SQLITE:///a%20b/state.db", "/a b/state.db"),
        ("/var/lib/consentinel/state.db", "/var/lib/consentinel/state.db"),
        ("state.db", "state.db"),
    ])
    func sqlite(_ url: String, _ path: String) throws {
        #expect(try StateStoreLocation(url) == .sqlite(path: path))
    }

    @Test func postgres() throws {
        let location = try PostgresLocation("postgres://user:p%40ss@127.0.0.1:6543/db")
        #expect(location.host == "127.0.0.1")
        #expect(location.port == 6543)
        #expect(location.user == "user")
        #expect(location.password == "p@ss")
        #expect(location.database == "db")
        #expect(location.tls == .prefer)
        #expect(location.schema == nil)
        #expect(location.description == "postgres://user@127.0.0.1:6543/db")

        let full = try PostgresLocation(
            "postgresql://me@db.example.com/?sslmode=verify-full&schema=tenant_1&connect_timeout=3&pool_size=4")
        #expect(full.port == 5432)
        #expect(full.database == "me")
        #expect(full.tls == .verifyFull)
        #expect(full.schema == "tenant_1")
        #expect(full.connectTimeoutSeconds == 3)
        #expect(full.poolSize == 4)
        #expect(try StateStoreLocation("postgres://u@[::1]:5433/x") == .postgres(try PostgresLocation("postgres://u@[::1]:5433/x")))
        #expect(try PostgresLocation("postgres://u@[::1]:5433/x").host == "::1")
    }

    @Test(arguments: [
        "", "mysql://u@h/db", "postgres://127.0.0.1/db", "postgres://u@/db", "postgres://u@h/db?sslmode=maybe",
        "postgres://u@h/db?schema=Robert'); DROP TABLE state;--", "postgres://u@h/db?colour=red",
        "postgres://u@h/db?pool_size=0", "sqlite://",
    ])
    func invalid(_ url: String) async {
        await expectError(.invalidArgument) { _ = try StateStoreLocation(url) }
    }

    @Test func passwordsStayOutOfMessages() async {
        do {
            _ = try PostgresLocation("postgres://u:secret@h/db?sslmode=nope")
            Issue.record("expected an error")
        } catch {
            #expect(!error.message.contains("secret"), "\(error)")
        }
    }
}

@Suite("SQLite backend")
struct SQLiteBackendTests {
    @Test func migrationsAreNamedAndTheFileIsInWALMode() async throws {
        try await withLocation(.sqlite) { location in
            guard case .sqlite(let path) = try StateStoreLocation(location.url) else { throw StorageError(.io, "?") }
            let store = try SQLiteStateStore(path: path)
            await store.close()
            let queue = try DatabaseQueue(path: path)
            let (names, mode) = try await queue.read { db in
                (try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid"),
                 try String.fetchOne(db, sql: "PRAGMA journal_mode"))
            }
            #expect(names == ["v1-partitions", "v1-state", "v1-outbox", "v1-global", "v2-outbox-lease", "v2-alerts", "v3-alerts-set-aside"])
            #expect(names == SQLiteStateStore.migrationNames)
            #expect(mode == "wal")
        }
    }

    @Test func aFileMigratedByANewerVersionIsRefused() async throws {
        try await withLocation(.sqlite) { location in
            guard case .sqlite(let path) = try StateStoreLocation(location.url) else { throw StorageError(.io, "?") }
            await SQLiteStateStore.closing(try SQLiteStateStore(path: path))
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-from-the-future')")
            }
            try queue.close()
            await expectError(.schema) { _ = try SQLiteStateStore(path: path) }
        }
    }

    @Test func aFileThatIsNotADatabaseIsRefused() async throws {
        try await withLocation(.sqlite) { location in
            guard case .sqlite(let path) = try StateStoreLocation(location.url) else { throw StorageError(.io, "?") }
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: StorageError.self) { _ = try SQLiteStateStore(path: path) }
            #expect(error?.code == .io || error?.code == .schema, "\(String(describing: error))")
        }
    }
}

@Suite("PostgreSQL backend")
struct PostgresBackendTests {
    /// Raw SQL against the test database, to look behind the store's back.
    func withClient<T: Sendable>(_ url: String, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let location = try PostgresLocation(url)
        let client = PostgresClient(configuration: PostgresStateStore.configuration(location))
        let run = Task { await client.run() }
        defer { run.cancel() }
        return try await body(client)
    }

    @Test func migrationsAreNamedAndVersioned() async throws {
        try await withLocation(.postgres) { location in
            await PostgresStateStore.closing(try await PostgresStateStore(url: location.url))
            await PostgresStateStore.closing(try await PostgresStateStore(url: location.url))  // again: nothing to do
            let applied = try await withClient(location.url) { client in
                var applied: [String] = []
                let rows = try await client.query("SELECT version, name FROM consentinel_migrations ORDER BY version")
                for try await (version, name) in rows.decode((Int32, String).self) { applied.append("\(version) \(name)") }
                return applied
            }
            #expect(applied == ["1 v1-partitions", "2 v1-state", "3 v1-outbox", "4 v1-global", "5 v2-outbox-lease", "6 v2-alerts", "7 v3-alerts-set-aside"])
        }
    }

    @Test func aDatabaseMigratedByANewerVersionIsRefused() async throws {
        try await withLocation(.postgres) { location in
            await PostgresStateStore.closing(try await PostgresStateStore(url: location.url))
            try await withClient(location.url) { client in
                _ = try await client.query("INSERT INTO consentinel_migrations (version, name) VALUES (\(PostgresStateStore.migrationNames.count + 1), 'v9-future')")
            }
            await expectError(.schema) { _ = try await PostgresStateStore(url: location.url) }
        }
    }

    @Test func concurrentFirstStartsMigrateOnce() async throws {
        try await withLocation(.postgres) { location in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { await PostgresStateStore.closing(try await PostgresStateStore(url: location.url)) }
                }
                try await group.waitForAll()
            }
            // Each migration applied once, in order, whichever start won; and the schema works.
            let applied = try await withClient(location.url) { client in
                var applied: [Int32] = []
                let rows = try await client.query("SELECT version FROM consentinel_migrations ORDER BY version")
                for try await version in rows.decode(Int32.self) { applied.append(version) }
                return applied
            }
            #expect(applied == Array(1...Int32(PostgresStateStore.migrationNames.count)))
            let store = try await PostgresStateStore(url: location.url)
            let claim = try await store.claim(PartitionID(topic: "t", partition: 0), pipeline: "p")
            #expect(claim.epoch >= 1 && claim.state.isEmpty)
            await store.close()
        }
    }

    @Test func anUnreachableServerIsAConnectionError() async throws {
        let started = ContinuousClock.now
        await expectError(.connection) {
            _ = try await PostgresStateStore(url: "postgres://u:p@127.0.0.1:1/db?connect_timeout=2&sslmode=disable")
        }
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test func aWrongPasswordIsAConnectionError() async throws {
        var components = try #require(URLComponents(string: try StoreLocation.postgresURL()))
        components.password = "wrong-password"
        await expectError(.connection) {
            _ = try await PostgresStateStore(url: components.string! + "?connect_timeout=5")
        }
    }
}

extension StateStore {
    static func closing(_ store: Self) async { await store.close() }
}
