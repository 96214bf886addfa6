/// The one error type of the `Storage` module.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String

        init(_ name: String) { self.name = name }

        /// Another owner claimed a partition since this one did, or its stored offset is not the expected one.
        /// Nothing was written; re-claim the partition (reload its state) before going on.
        public static let fenced = Code("fenced")
        /// A query or transaction failed (the database refused it or the file could not be written).
        public static let io = Code("io")
        /// The database's schema is not one this version knows (a newer version migrated it, or it is corrupt).
        public static let schema = Code("schema")
        /// The server could not be reached, the connection broke, or the store is closed.
        public static let connection = Code("connection")
        /// A bad argument: an unparseable store URL, state for a partition without a fence in the commit, …
        public static let invalidArgument = Code("invalid_argument")

        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "storage error (\(code)): \(message)" }
}

/// Runs `body`, passing a `StorageError` through and turning any other error into one with `classify`.
func mapErrors<T>(
    _ classify: (any Error) -> StorageError, _ body: () async throws -> T
) async throws(StorageError) -> T {
    do {
        return try await body()
    } catch let error as StorageError {
        throw error
    } catch {
        throw classify(error)
    }
}
