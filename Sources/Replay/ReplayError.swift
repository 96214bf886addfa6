import Processing

/// The one error type of the Replay module: bad arguments, an input that cannot be read, an output that cannot be
/// written.
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static let input = Code("input")
        public static let output = Code("output")
        public static let arguments = Code("arguments")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A fault of the processing core, with its code.
    public init(_ error: ProcessingError) {
        self.init(error.code == .output ? .output : .input, error.message)
    }

    public var description: String { message }
}
