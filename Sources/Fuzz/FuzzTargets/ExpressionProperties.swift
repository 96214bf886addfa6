import Events
import Rules

/// The rule language on any text: lexing, parsing, checking and compiling never trap; every fault points inside the
/// text; a parsed tree written back as text (`ExpressionSource`) parses to the same tree, checks the same and
/// compiles to the same program, which gives the same answers; `not (…)` gives the opposite answers.
enum ExpressionProperties {
    static let environment = ExpressionEnvironment(taxonomy: builtinTaxonomy, lists: [
        "consent_purposes": ["marketing", "personalize", "third_party_sharing", "train_ai_system"],
        "ad_purposes": ["marketing.advertising", "personalize"],
        "sensitive_categories": ["user.health_and_medical", "user.biometric", "user.government_id", "user.criminal_history"],
        "disclosed_recipients": ["payment-processor", "email-provider", "analytics-partner", "ad-network"],
        "contractors": ["ext-anna", "ext-ben"],
        "mixed": ["marketing", "user.contact", "not a key"],
    ])

    /// Events of every type to run compiled expressions on.
    static let events: [Event] = {
        var samples = SampleEvents(taxonomy: builtinTaxonomy, seed: 13)
        return (0..<48).compactMap { _ in try? DecoderProperties.decoder.decode(samples.next()).get() }
    }()

    static func check(_ input: [UInt8]) throws(PropertyFailure) {
        let source = String(decoding: input, as: UTF8.self)
        let bounds = ExpressionBounds(source)
        switch Lexer.tokenize(source) {
        case .failure(let issue):
            try bounds.require(issue.position, "lexer fault \(issue)")
        case .success(let tokens):
            try require(tokens.last?.kind == .end && tokens.dropLast().allSatisfy { $0.kind != .end }, "tokens do not end once")
            for token in tokens { try bounds.require(token.position, "token \(token)") }
            try require(zip(tokens, tokens.dropFirst()).allSatisfy { $0.position < $1.position }, "tokens out of order")
        }
        let tree: Expr
        switch Parser.parse(source) {
        case .failure(let issue):
            try bounds.require(issue.position, "parser fault \(issue)")
            return
        case .success(let parsed):
            tree = parsed
        }

        let written = ExpressionSource.text(tree)
        guard case .success(let reparsed) = Parser.parse(written) else {
            throw PropertyFailure("the tree \(tree) written as \(quoted(written)) does not parse")
        }
        try require(reparsed.description == tree.description, "the tree \(tree) written as \(quoted(written)) parses to \(reparsed)")

        switch (Checker.check(tree, environment: environment), Checker.check(reparsed, environment: environment)) {
        case (.failure(let issues), .failure(let again)):
            for issue in issues.issues { try bounds.require(issue.position, "checker fault \(issue)") }
            try require(faults(issues) == faults(again), "\(quoted(written)) checks with other faults than the text it came from")
        case (.success(let typed), .success(let again)):
            try require(typed.description == again.description, "\(quoted(written)) checks to another typed tree")
            try compiled(source, written)
        default:
            throw PropertyFailure("\(quoted(written)) and the text it came from do not both check")
        }
    }

    private static func compiled(_ source: String, _ written: String) throws(PropertyFailure) {
        guard case .success(let program) = ExpressionCompiler.compile(source, environment: environment),
              case .success(let again) = ExpressionCompiler.compile(written, environment: environment),
              case .success(let negated) = ExpressionCompiler.compile("not (\(written))", environment: environment)
        else { throw PropertyFailure("an expression that checks does not compile") }
        try require(program.planText == again.planText, "\(quoted(written)) compiles to \(again.planText), not \(program.planText)")
        for event in events {
            let answer = program.test(event)
            try require(again.test(event) == answer, "\(quoted(written)) answers otherwise for event \(event.id)")
            try require(negated.test(event) == !answer, "not (\(written)) is not the opposite for event \(event.id)")
            if let constant = program.constantValue {
                try require(answer == constant, "\(program.planText) is constant \(constant) but answers \(answer)")
            }
        }
    }

    private static func faults(_ issues: ExpressionIssues) -> [String] {
        issues.issues.map { "\($0.code): \($0.message)" }.sorted()
    }
}

/// The positions inside an expression's text: lines as the lexer counts them, columns from 1 to one past the line's
/// last character.
struct ExpressionBounds {
    let lineLengths: [Int]

    init(_ source: String) {
        lineLengths = source.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(\.count)
    }

    func require(_ position: SourcePosition, _ what: @autoclosure () -> String) throws(PropertyFailure) {
        guard position.line >= 1, position.line <= lineLengths.count, position.column >= 1,
              position.column <= lineLengths[position.line - 1] + 1
        else { throw PropertyFailure("\(what()) is outside the text (lines of \(lineLengths) characters)") }
    }
}
