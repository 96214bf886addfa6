import Events
@testable import Rules

/// A small taxonomy and a few lists, shared by the language tests.
enum Fixtures {
    static let taxonomy: Taxonomy = {
        func tree(_ keys: [String]) -> Taxonomy.Tree {
            try! Taxonomy.Tree(entries: keys.map { Taxonomy.Entry(key: $0, name: $0) })
        }
        return Taxonomy(
            categories: tree([
                "user", "user.contact", "user.contact.email", "user.contact.phone", "user.financial",
                "user.financial.bank_account", "system", "system.operations",
            ]),
            uses: tree([
                "marketing", "marketing.advertising", "marketing.communications", "analytics", "analytics.reporting",
                "essential", "essential.service",
            ]))
    }()

    static let environment = ExpressionEnvironment(taxonomy: taxonomy, lists: [
        "disclosed": ["acme", "globex"],
        "support_roles": ["support", "admin"],
        "marketing_uses": ["marketing", "analytics.reporting"],
        "sensitive": ["user.financial", "user.contact.phone"],
        "mixed": ["marketing", "nope"],
    ])

    static func category(_ key: String) -> TaxonomyNode { taxonomy.categories.node(key)! }
    static func purpose(_ key: String) -> TaxonomyNode { taxonomy.uses.node(key)! }

    /// An event with a few defaults: an access by alice (role support) on Monday 2024-03-04 at 10:30 UTC.
    static func event(
        _ type: EventType = .access, time: String = "2024-03-04T10:30:00Z", subject: String = "cust-1",
        actor: String? = "alice", role: String? = "support", system: String? = nil, purpose: String? = "essential.service",
        categories: [String] = ["user.contact.email"], deletesAll: Bool = false, recipient: String? = nil,
        status: ConsentStatus? = nil, source: String? = nil, attributes: [String: String] = [:]
    ) -> Event {
        Event(
            id: "e-1", type: type, time: Timestamp(rfc3339: time)!, subject: subject,
            actor: actor.map(Symbol.init), role: role.map(Symbol.init), system: system.map(Symbol.init),
            purpose: purpose.map(Fixtures.purpose), categories: categories.map(Fixtures.category), deletesAll: deletesAll,
            recipient: recipient.map(Symbol.init), status: status, source: source.map(Symbol.init),
            attributes: attributes.sorted { $0.key < $1.key }.map { Event.Attribute(key: $0.key, value: $0.value) })
    }

    /// Compiles an expression as if it stood in `rules/access.yaml` at line 10 after `    when: `; continuation
    /// lines are indented by six spaces. Returns the program or the full error text.
    static func compile(_ source: String) -> Result<CompiledExpression, RuleErrors> {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return ExpressionCompiler.compile(source, environment: environment) { line, column in
            let prefix = line == 1 ? "    when: " : "      "
            return (SourceLocation(file: "rules/access.yaml", line: 9 + line, column: prefix.count + column),
                    line <= lines.count ? prefix + lines[line - 1] : nil)
        }
    }

    static func errorText(_ source: String) -> String {
        switch compile(source) {
        case .success(let program): "compiled: \(program.planText)"
        case .failure(let errors): errors.description
        }
    }
}
