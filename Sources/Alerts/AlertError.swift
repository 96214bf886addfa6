/// The one error type of the `Alerts` module.
public struct AlertError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// A queued alert whose content cannot be read back.
        public static let corrupt = Code("corrupt")
        /// A JSONL file that cannot be opened, written or synced.
        public static let file = Code("file")
        /// Alert settings in `pipeline.yaml` that cannot be used.
        public static let settings = Code("settings")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
