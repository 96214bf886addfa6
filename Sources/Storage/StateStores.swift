import Foundation
import Logging

/// Opens a state store from its URL.
public enum StateStores {
    /// `sqlite:///path/file.db`, `sqlite:relative/file.db` or a plain path: SQLite.
    /// `postgres://user:password@host:port/database?…` (or `postgresql://`): PostgreSQL (see `PostgresLocation`).
    public static func open(
        url: String, logger: Logger = Logger(label: StorageLog.label)
    ) async throws(StorageError) -> any StateStore {
        switch try StateStoreLocation(url) {
        case .sqlite(let path): return try SQLiteStateStore(path: path)
        case .postgres(let location): return try await PostgresStateStore(location: location, logger: logger)
        }
    }
}

/// Names of logs and log metadata keys of this module, in one place.
public enum StorageLog {
    public static let label = "consentinel.storage"
    static let backend = "storage.backend"
    static let host = "storage.host"
}

/// Where a store lives, parsed from its URL.
public enum StateStoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    public init(_ url: String) throws(StorageError) {
        let lower = url.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            self = .postgres(try PostgresLocation(url))
        } else if lower.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }  // sqlite:///abs/path → /abs/path
            path = path.removingPercentEncoding ?? path
            guard !path.isEmpty else { throw StorageError(.invalidArgument, "no file in state store URL \(url)") }
            self = .sqlite(path: path)
        } else if let scheme = url.range(of: "://") {
            throw StorageError(
                .invalidArgument,
                "unknown state store scheme \(url[..<scheme.lowerBound]) (sqlite or postgres expected)")
        } else if url.isEmpty {
            throw StorageError(.invalidArgument, "empty state store URL")
        } else {
            self = .sqlite(path: url)
        }
    }
}

/// A PostgreSQL server and database, from `postgres://user:password@host:port/database?param=value&…`.
///
/// Parameters: `sslmode` (`disable`, `prefer` (default), `require` (TLS, no certificate check), `verify-full`),
/// `schema` (a schema to keep the tables in, created when missing; default: the server's search path),
/// `connect_timeout` (seconds, default 10), `pool_size` (connections, default 10).
/// User and password may be percent-encoded; the password may instead come from the `PGPASSWORD` environment
/// variable.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable { case disable, prefer, require, verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var schema: String?
    public var connectTimeoutSeconds: Int
    public var poolSize: Int

    public init(_ url: String) throws(StorageError) {
        func bad(_ why: String) -> StorageError {
            StorageError(.invalidArgument, "bad PostgreSQL URL (\(why)): \(Self.redacted(url))")
        }
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw bad("no host")
        }
        guard let user = components.user, !user.isEmpty else { throw bad("no user") }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = user
        self.password = components.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? user : path
        tls = .prefer
        schema = nil
        connectTimeoutSeconds = 10
        poolSize = 10
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else { throw bad("sslmode \(value)") }
                tls = mode
            case "schema":
                guard Self.isIdentifier(value) else { throw bad("schema must be a lower-case SQL identifier") }
                schema = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else { throw bad("connect_timeout \(value)") }
                connectTimeoutSeconds = seconds
            case "pool_size":
                guard let size = Int(value), size > 0 else { throw bad("pool_size \(value)") }
                poolSize = size
            default:
                throw bad("unknown parameter \(item.name)")
            }
        }
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 63,
            first == "_" || ("a"..."z").contains(first)
        else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// The URL without its password, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://…"
    }

    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? "")
    }
}
