/// A position in a pipeline file: 1-based line and column (columns count characters).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }

    /// The location `offset` characters further on the same line.
    public func advanced(by offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column + offset)
    }
}

/// The one error type of the Rules module: a fault in a pipeline, with where it is and a caret line.
public struct RuleError: Error, Sendable, CustomStringConvertible, Hashable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let syntax = Code("syntax")
        public static let type = Code("type")
        public static let unknownField = Code("unknown_field")
        public static let unknownList = Code("unknown_list")
        public static let unknownKey = Code("unknown_key")
        public static let unknownFunction = Code("unknown_function")
        public static let schema = Code("schema")
        public static let io = Code("io")
        public static let duplicate = Code("duplicate")
    }

    public var code: Code
    public var message: String
    public var location: SourceLocation?
    /// The text of the faulty line, when known, for the caret display.
    public var sourceLine: String?

    public init(_ code: Code, _ message: String, at location: SourceLocation? = nil, sourceLine: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.sourceLine = sourceLine
    }

    /// `file:line:column: error: message`, then the line and a caret under the fault.
    public var description: String {
        var out = ""
        if let location { out += "\(location): " }
        out += "error: \(message)"
        if let sourceLine, let location {
            out += "\n" + sourceLine + "\n" + String(repeating: " ", count: max(0, location.column - 1)) + "^"
        }
        return out
    }
}

/// Several faults found at once (`rules check` prints all of them).
public struct RuleErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [RuleError]
    public init(_ errors: [RuleError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
