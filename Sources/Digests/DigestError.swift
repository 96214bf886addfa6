/// Why digests could not be read or rendered.
public struct DigestError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }
        /// No such month folder, or no such file in it.
        public static let missingMonth = Code(name: "missing_month")
        /// The month has no digest for that subject.
        public static let missingSubject = Code(name: "missing_subject")
        /// A file or line that is not a digest.
        public static let malformed = Code(name: "malformed")
        /// A month not written as `YYYY-MM`.
        public static let badMonth = Code(name: "bad_month")
        public static let unknownLanguage = Code(name: "unknown_language")
        public static let unknownFormat = Code(name: "unknown_format")
        public static let io = Code(name: "io")
    }

    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
