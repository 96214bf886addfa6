/// A rule's `message`: its template in each language given, for all of the rule's reasons or for each reason.
public struct RuleMessage: Sendable {
    public typealias Translations = [MessageLanguage: MessageTemplate]

    /// The templates of every reason (empty when the message is given per reason).
    public var all: Translations
    public var byReason: [String: Translations]

    public init(all: Translations, byReason: [String: Translations] = [:]) {
        self.all = all
        self.byReason = byReason
    }

    /// The template of a violation for `reason` in `language`: that language's, else English; nil when there is
    /// neither (the violation keeps the engine's own sentence).
    public func template(reason: String, language: MessageLanguage) -> MessageTemplate? {
        let translations = byReason[reason] ?? all
        return translations[language] ?? translations[.en]
    }
}

extension Pipeline {
    /// The language of its violations' messages: `language:` of `pipeline.yaml`, English by default.
    public var language: MessageLanguage {
        settings["language"]?.string.flatMap(MessageLanguage.init(rawValue:)) ?? .en
    }
}

extension Faults {
    /// `language:` of `pipeline.yaml` must name one of the languages messages are written in.
    mutating func checkLanguage(_ value: PipelineValue) {
        guard value.string.flatMap(MessageLanguage.init(rawValue:)) == nil else { return }
        let names = MessageLanguage.allCases.map(\.rawValue)
        let given = value.string.map { ", not '\($0)'\(Suggestion.hint(for: $0, among: names))" } ?? ""
        add(.schema, "language must be one of \(names.joined(separator: ", "))\(given)", value.location)
    }
}
