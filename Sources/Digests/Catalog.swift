import Events

/// A language digests are rendered in.
public enum Language: String, CaseIterable, Sendable {
    case en, es, de, fr

    public var catalog: Catalog {
        switch self {
        case .en: .english
        case .es: .spanish
        case .de: .german
        case .fr: .french
        }
    }

    /// CLDR's plural rule for the cardinal `n` (these four languages need only `one` and `other`).
    func isOne(_ n: Int) -> Bool {
        switch self {
        case .fr: n == 0 || n == 1
        case .en, .es, .de: n == 1
        }
    }
}

/// A UI string: plain, or one form per plural category (chosen by the `{count}` placeholder).
public enum CatalogText: Sendable, ExpressibleByStringLiteral {
    case plain(String)
    case plural(one: String, other: String)
    public init(stringLiteral value: String) { self = .plain(value) }
}

/// Everything shown to people in one language: UI strings with `{placeholders}`, and human names for taxonomy keys,
/// consent sources, rule kinds, severities and event types (`Catalogs/<language>.json`). What a pipeline's roles and
/// rules are called comes with the pipeline (`DigestContext.texts`).
public struct Catalog: Sendable {
    public var language: Language
    public var messages: [Message: CatalogText]
    /// Data category key → name.
    public var categories: [String: String]
    /// Data use key → name (a purpose).
    public var uses: [String: String]
    /// Where a consent decision came from (`source`); others are shown as written.
    public var sources: [String: String]
    /// Event types (`access`, `erasure_request`, …).
    public var eventTypes: [String: String]
    public var severities: [String: String]
    /// One sentence to a customer about a broken rule, by rule kind, for rules their pipeline does not word.
    public var kindSentences: [String: String]
    /// January … December.
    public var monthNames: [String]
    /// Thousands separator for counts.
    public var groupingSeparator: String

    /// The UI string for `message` with placeholders filled in; `{count}` also picks the plural form.
    /// A message the catalog lacks comes out as `⟦key⟧`, which the tests look for.
    public func text(_ message: Message, _ values: [String: String] = [:], count: Int? = nil) -> String {
        var values = values
        let template: String
        switch messages[message] {
        case .plain(let s)?: template = s
        case .plural(let one, let other)?: template = count.map { language.isOne($0) } == true ? one : other
        case nil: return "⟦\(message.rawValue)⟧"
        }
        if let count { values["count"] = number(count) }
        return Catalog.fill(template, values)
    }

    /// Placeholders filled in one pass: a value is never scanned for further placeholders.
    static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}"), let value = values[String(rest[rest.index(after: open)..<close])] else {
                out += "{"
                rest = rest[rest.index(after: open)...]
                continue
            }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// A count with the language's thousands separator.
    public func number(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += groupingSeparator }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// The name of a data category; a key without a name borrows its nearest named ancestor's.
    public func categoryName(_ key: String) -> String { Catalog.name(key, in: categories) }

    /// The name of a data use (purpose), likewise.
    public func useName(_ key: String) -> String { Catalog.name(key, in: uses) }

    public func sourceName(_ source: String) -> String { sources[source] ?? source }
    public func eventTypeName(_ type: String) -> String { eventTypes[type] ?? type }
    public func severityName(_ severity: String) -> String { severities[severity] ?? severity }

    static func name(_ key: String, in names: [String: String]) -> String {
        var k = Substring(key)
        while true {
            if let name = names[String(k)] { return name }
            guard let dot = k.lastIndex(of: ".") else { break }
            k = k[..<dot]
        }
        // Nothing in the lineage is named (a pipeline's own key): its last segment, made readable.
        let last = key.split(separator: ".").last.map(String.init) ?? key
        let words = last.replacingOccurrences(of: "_", with: " ")
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    /// Keys of `taxonomy` that this catalog names only through a fallback.
    public func unnamedKeys(in taxonomy: Taxonomy) -> (categories: [String], uses: [String]) {
        (taxonomy.categories.entries.map(\.key).filter { categories[$0] == nil },
         taxonomy.uses.entries.map(\.key).filter { uses[$0] == nil })
    }

    /// `5 January 2026` in the language's way.
    public func date(_ t: Timestamp) -> String {
        let (y, m, d) = t.civilDate
        return text(.dateFormat, ["day": String(d), "month": monthNames[Int(m) - 1], "year": String(y)])
    }

    /// `January 2026` for a `YYYY-MM` key.
    public func month(_ key: String) -> String {
        let parts = key.split(separator: "-")
        guard parts.count == 2, let m = Int(parts[1]), (1...12).contains(m) else { return key }
        return text(.monthFormat, ["month": monthNames[m - 1], "year": String(parts[0])])
    }

    /// A retention period in the largest whole unit: `7 years`, `30 days`, `48 hours`.
    public func duration(_ d: Duration) -> String {
        let minutes = Int(d.microseconds / 60_000_000)
        let day = 24 * 60
        if minutes > 0 && minutes % (365 * day) == 0 { return text(.durationYears, count: minutes / (365 * day)) }
        if minutes > 0 && minutes % day == 0 { return text(.durationDays, count: minutes / day) }
        if minutes > 0 && minutes % 60 == 0 { return text(.durationHours, count: minutes / 60) }
        return text(.durationMinutes, count: minutes)
    }

    /// Names joined as a list: `Name, Email address and Phone number`.
    public func list(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + text(.listAnd) + items.last!
    }
}
