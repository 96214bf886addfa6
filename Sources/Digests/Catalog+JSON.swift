import Events

extension Catalog {
    public static let english = embedded(.en)
    public static let spanish = embedded(.es)
    public static let german = embedded(.de)
    public static let french = embedded(.fr)

    /// `Catalogs/<language>.json`, compiled into the binary.
    static func embeddedFile(_ language: Language) -> [UInt8] {
        switch language {
        case .en: PackageResources.en_json
        case .es: PackageResources.es_json
        case .de: PackageResources.de_json
        case .fr: PackageResources.fr_json
        }
    }

    /// The catalog of the compiled-in file. One that does not read is a programming error, which the catalog tests
    /// catch.
    static func embedded(_ language: Language) -> Catalog {
        do {
            return try Catalog(language: language, jsonText: String(decoding: embeddedFile(language), as: UTF8.self))
        } catch {
            preconditionFailure("Sources/Digests/Catalogs/\(language.rawValue).json: \(error)")
        }
    }

    /// A catalog from the text of its JSON file: `messages` (message key → text, or `{"one": …, "other": …}`),
    /// the names `categories`, `uses`, `sources`, `event_types`, `severities` and `kind_sentences` (key → text),
    /// `month_names` (January … December) and `grouping_separator`. A section left out is empty: `missingKeys`
    /// says what is missing.
    public init(language: Language, jsonText: String) throws(DigestError) {
        let root: JSONValue
        do {
            root = try JSONValue.parse(jsonText)
        } catch {
            throw DigestError(.malformed, "not JSON: \(error)")
        }
        guard case .object(let sections) = root else { throw DigestError(.malformed, "a catalog is a JSON object") }
        let known = ["messages", "categories", "uses", "sources", "event_types", "severities", "kind_sentences", "month_names",
                     "grouping_separator"]
        if let unknown = sections.first(where: { !known.contains($0.0) }) {
            throw DigestError(.malformed, "unknown section '\(unknown.0)'; the sections are \(known.joined(separator: ", "))")
        }
        guard case .string(let separator)? = root["grouping_separator"] else {
            throw DigestError(.malformed, "grouping_separator must be a text (the thousands separator)")
        }
        self.init(
            language: language, messages: try Self.messages(root["messages"]), categories: try Self.names(root, "categories"),
            uses: try Self.names(root, "uses"), sources: try Self.names(root, "sources"),
            eventTypes: try Self.names(root, "event_types"), severities: try Self.names(root, "severities"),
            kindSentences: try Self.names(root, "kind_sentences"), monthNames: try Self.monthNames(root["month_names"]),
            groupingSeparator: separator)
    }

    private static func messages(_ value: JSONValue?) throws(DigestError) -> [Message: CatalogText] {
        guard let value else { return [:] }
        guard case .object(let pairs) = value else { throw DigestError(.malformed, "messages must be an object") }
        var messages: [Message: CatalogText] = [:]
        for (key, text) in pairs {
            guard let message = Message(rawValue: key) else { throw DigestError(.malformed, "messages.\(key) is no message") }
            switch (text, text["one"], text["other"]) {
            case (.string(let s), _, _): messages[message] = .plain(s)
            case (.object(let forms), .string(let one)?, .string(let other)?) where forms.count == 2:
                messages[message] = .plural(one: one, other: other)
            default:
                throw DigestError(.malformed, #"messages.\#(key) must be a text or {"one": …, "other": …}"#)
            }
        }
        return messages
    }

    private static func names(_ root: JSONValue, _ section: String) throws(DigestError) -> [String: String] {
        guard let value = root[section] else { return [:] }
        guard case .object(let pairs) = value else { throw DigestError(.malformed, "\(section) must be an object") }
        var names: [String: String] = [:]
        for (key, name) in pairs {
            guard case .string(let s) = name else { throw DigestError(.malformed, "\(section).\(key) must be a text") }
            names[key] = s
        }
        return names
    }

    private static func monthNames(_ value: JSONValue?) throws(DigestError) -> [String] {
        guard let value else { return [] }
        guard case .array(let items) = value else { throw DigestError(.malformed, "month_names must be an array") }
        return try items.map { item throws(DigestError) in
            guard case .string(let s) = item else { throw DigestError(.malformed, "month_names must hold texts") }
            return s
        }
    }
}
