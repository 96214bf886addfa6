import Events

/// What an expression may name besides the event: the taxonomy and the pipeline's lists (`list.NAME`).
public struct ExpressionEnvironment: Sendable {
    public var taxonomy: Taxonomy
    public var lists: [String: [String]]

    public init(taxonomy: Taxonomy, lists: [String: [String]]) {
        self.taxonomy = taxonomy
        self.lists = lists
    }
}

/// An expression ready to run: a tree of closures with every name resolved at compile time.
public struct CompiledExpression: Sendable, CustomStringConvertible {
    public let source: String
    /// The checked tree with types (stage 3), as text.
    public let typedText: String
    let plan: Plan

    /// True when the expression holds for the event.
    @inline(__always)
    public func test(_ event: Event) -> Bool { plan.test(event) }

    /// The compiled program as text: `(and (type== share) (not (symbol-in event.recipient list.disclosed)))`.
    public var planText: String { plan.text }

    /// The event types for which the expression can hold, as bits `1 << rawValue` (every type unless it says).
    public var eventTypes: UInt32 { plan.types }

    /// True or false for every event (for example `true`, or `1 < 2`); nil when it depends on the event.
    public var constantValue: Bool? { plan.constant }

    public var description: String { planText }
}

/// The public entry of the expression language: text → tokens → syntax tree → typed tree → program.
public enum ExpressionCompiler {
    /// Compiles one expression of a rule.
    ///
    /// `locate` maps a (line, column) inside `source`, both 1-based, to a file location and the text of that
    /// file line (for the caret). A syntax fault stops at the first; type faults are all reported.
    public static func compile(
        _ source: String, environment: ExpressionEnvironment, locate: (Int, Int) -> (SourceLocation, String?)
    ) -> Result<CompiledExpression, RuleErrors> {
        switch check(source, environment: environment) {
        case .failure(let issues):
            return .failure(RuleErrors(issues.issues.map { $0.located(locate) }))
        case .success(let typed):
            return .success(CompiledExpression(source: source, typedText: typed.description, plan: Compiler.compile(typed)))
        }
    }

    /// Compiles an expression that stands on its own (a command-line filter, a test): errors point into
    /// `source` itself, as `file:line:column`.
    public static func compile(
        _ source: String, environment: ExpressionEnvironment, file: String = "<expression>"
    ) -> Result<CompiledExpression, RuleErrors> {
        let lines = source.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        return compile(source, environment: environment) { line, column in
            (SourceLocation(file: file, line: line, column: column), line <= lines.count ? lines[line - 1] : nil)
        }
    }

    /// Stages 1–3 only: the typed tree, or every fault found.
    public static func check(_ source: String, environment: ExpressionEnvironment) -> Result<TypedExpr, ExpressionIssues> {
        switch Parser.parse(source) {
        case .failure(let issue): .failure(ExpressionIssues([issue]))
        case .success(let expr): Checker.check(expr, environment: environment)
        }
    }
}
