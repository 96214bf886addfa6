import Foundation
import Testing

@testable import Storage

/// The two backends every store test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }
}

/// A fresh, empty store location for one test: a SQLite file in a new temporary folder, or a new schema in the
/// PostgreSQL database named by `CONSENTINEL_TEST_POSTGRES_URL` (which `scripts/test.sh` starts and sets).
struct StoreLocation: Sendable {
    let backend: Backend
    let url: String
    private let folder: URL?

    init(_ backend: Backend) throws {
        self.backend = backend
        let unique = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("storage-tests-\(unique)")
            self.folder = folder
            url = "sqlite://" + folder.appendingPathComponent("state.db").path
        case .postgres:
            folder = nil
            let base = try Self.postgresURL()
            url = base + (base.contains("?") ? "&" : "?") + "schema=t_\(unique)&connect_timeout=20"
        }
    }

    static func postgresURL() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["CONSENTINEL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 },
            """
            CONSENTINEL_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a throw-away \
            PostgreSQL server (or eval "$(scripts/postgres.sh)" first)
            """)
    }

    func open() async throws -> any StateStore {
        try await StateStores.open(url: url)
    }

    /// Opens a store, runs `body`, closes the store, and removes a SQLite folder.
    func withStore<T>(_ body: (any StateStore) async throws -> T) async throws -> T {
        let store = try await open()
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    func remove() {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }
}

/// Runs `body` with a fresh location and removes it afterwards.
func withLocation(_ backend: Backend, _ body: (StoreLocation) async throws -> Void) async throws {
    let location = try StoreLocation(backend)
    defer { location.remove() }
    try await body(location)
}

/// Expects `body` to fail with a `StorageError` of `code`.
func expectError(
    _ code: StorageError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a \(code) error, got success", sourceLocation: sourceLocation)
    } catch let error as StorageError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a StorageError, got \(error)", sourceLocation: sourceLocation)
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func row(_ namespace: String, _ key: String, _ value: String?) -> StateRow {
    StateRow(namespace: namespace, key: key, value: value.map(bytes))
}

func outbox(_ id: String, value: String = "v", kind: String = "violation") -> OutboxRow {
    OutboxRow(id: id, kind: kind, topic: "violations", key: bytes("subject-\(id)"), value: bytes(value))
}

let events0 = PartitionID(topic: "events", partition: 0)
let events1 = PartitionID(topic: "events", partition: 1)
