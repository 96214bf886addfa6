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
    /// A finding that does not stop a pipeline from loading (printed as `warning:`).
    public var isWarning = false

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
        out += (isWarning ? "warning: " : "error: ") + message
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

extension RuleError.Code {
    /// A literal that the field it is compared with can never hold (`event.type == "acess"`).
    public static let unknownValue = RuleError.Code("unknown_value")
}

/// A fault inside one expression, at a position of the expression's own text. `ExpressionCompiler` turns it
/// into a `RuleError` at the place of the pipeline file the expression came from.
public struct ExpressionIssue: Error, Hashable, Sendable, CustomStringConvertible, Comparable {
    public var code: RuleError.Code
    public var message: String
    public var position: SourcePosition

    public init(_ code: RuleError.Code, _ message: String, at position: SourcePosition) {
        self.code = code
        self.message = message
        self.position = position
    }

    /// `line:column: code: message`, for tests of a single stage.
    public var description: String { "\(position): \(code): \(message)" }

    public static func < (a: ExpressionIssue, b: ExpressionIssue) -> Bool { a.position < b.position }

    public func located(_ locate: (Int, Int) -> (SourceLocation, String?)) -> RuleError {
        let (location, line) = locate(position.line, position.column)
        return RuleError(code, message, at: location, sourceLine: line)
    }
}

/// All the faults of one expression (the checker reports every one it finds).
public struct ExpressionIssues: Error, Hashable, Sendable, CustomStringConvertible {
    public var issues: [ExpressionIssue]
    public init(_ issues: [ExpressionIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
