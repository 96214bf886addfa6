/// A text a catalog lacks: the language, and the text's place in its file (`messages.subject.title`,
/// `categories.user.contact.email`, `month_names.12`).
public struct MissingText: Hashable, Sendable, CustomStringConvertible {
    public var language: Language
    public var key: String

    public init(language: Language, key: String) {
        self.language = language
        self.key = key
    }

    public var description: String { "\(language.rawValue).json: \(key)" }
}

extension Catalog {
    /// What this catalog lacks: a UI string, one of the twelve month names, or a name that `reference` (English)
    /// gives: a data category or use, a consent source, an event type, a severity, a rule kind's sentence.
    public func missingKeys(comparedTo reference: Catalog) -> [MissingText] {
        var keys = Message.allCases.filter { messages[$0] == nil }.map { "messages." + $0.rawValue }
        keys += (1...12).filter { $0 > monthNames.count || monthNames[$0 - 1].isEmpty }.map { "month_names.\($0)" }
        let sections = [
            ("categories", categories, reference.categories), ("uses", uses, reference.uses),
            ("sources", sources, reference.sources), ("event_types", eventTypes, reference.eventTypes),
            ("severities", severities, reference.severities), ("kind_sentences", kindSentences, reference.kindSentences),
        ]
        for (section, names, named) in sections {
            keys += named.keys.filter { names[$0] == nil }.sorted().map { "\(section).\($0)" }
        }
        return keys.map { MissingText(language: language, key: $0) }
    }
}
