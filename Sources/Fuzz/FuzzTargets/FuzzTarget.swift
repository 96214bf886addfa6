/// The fuzz targets (docs/operations.md, "Fuzzing"). Each checks properties of one input: the code under test never
/// traps, and what it returns holds up; `check` throws when a property fails. libFuzzer (Sources/Fuzz/*Fuzz) and the
/// corpus tests (Tests/FuzzTests) run the same checks.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `EventDecoder`: an event it accepts re-serialises to JSON that decodes to an equal event.
    case decoder
    /// Lexer, parser, checker and compiler of the rule language: faults point into the text, a parsed tree written
    /// back as text parses to the same tree, and compiles to the same program.
    case expression
    /// `PipelineLoader`: a rules file (or, after a `# pipeline.yaml` first line, a pipeline.yaml): every fault has a
    /// line and column inside the input.
    case pipeline
    /// The portal's link and opt-out tokens: only tokens signed with the secret open, and those in one spelling only.
    case portalLink = "portal-link"

    public func check(_ input: [UInt8]) throws(PropertyFailure) {
        switch self {
        case .decoder: try DecoderProperties.check(input)
        case .expression: try ExpressionProperties.check(input)
        case .pipeline: try PipelineProperties.check(input)
        case .portalLink: try PortalLinkProperties.check(input)
        }
    }
}

/// A property that does not hold for an input.
public struct PropertyFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(PropertyFailure) {
    if !condition { throw PropertyFailure(message()) }
}
