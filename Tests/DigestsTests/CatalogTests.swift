@testable import Digests
import Events
import Foundation
import Testing

@Suite("Catalogs")
struct CatalogTests {
    static let taxonomy = try! Taxonomy.builtin()

    @Test("every catalog has every UI string, month name and name English has", arguments: Language.allCases)
    func complete(_ language: Language) {
        let missing = language.catalog.missingKeys(comparedTo: .english)
        #expect(missing.isEmpty, "missing: \(missing)")
    }

    @Test("English names every event type, severity and rule kind; every language names the same ones")
    func englishCoversTheVocabulary() {
        let en = Catalog.english
        #expect(Set(en.eventTypes.keys) == ["access", "use", "share", "collect", "delete", "consent", "erasure_request", "relationship_end"])
        #expect(Set(en.severities.keys) == ["low", "medium", "high", "critical"])
        #expect(Set(en.kindSentences.keys) == ["match", "consent", "retention", "deadline", "threshold", "access"])
        for c in Language.allCases.map(\.catalog) {
            #expect(Set(c.sources.keys) == Set(en.sources.keys), "\(c.language)")
            #expect(Set(c.eventTypes.keys) == Set(en.eventTypes.keys), "\(c.language)")
            #expect(Set(c.severities.keys) == Set(en.severities.keys), "\(c.language)")
            #expect(Set(c.kindSentences.keys) == Set(en.kindSentences.keys), "\(c.language)")
            #expect(c.monthNames.count == 12, "\(c.language)")
        }
    }

    /// The catalog file of `language` with the text at `path` (section, then key) taken out.
    static func catalog(_ language: Language, without path: [String]) throws -> Catalog {
        func removing(_ path: ArraySlice<String>, from value: JSONValue) -> JSONValue {
            guard let key = path.first else { return value }
            switch value {
            case .object(let pairs) where path.count == 1: return .object(pairs.filter { $0.0 != key })
            case .object(let pairs): return .object(pairs.map { ($0.0, $0.0 == key ? removing(path.dropFirst(), from: $0.1) : $0.1) })
            case .array(let items): return .array(items.enumerated().filter { String($0.offset + 1) != key }.map(\.element))
            default: return value
            }
        }
        let text = String(decoding: Catalog.embeddedFile(language), as: UTF8.self)
        return try Catalog(language: language, jsonText: removing(path[...], from: try JSONValue.parse(text)).serialized)
    }

    /// What the check finds in `broken` beyond what it finds in the language's own catalog.
    static func newlyMissing(_ broken: Catalog, comparedTo reference: Catalog = .english) -> [MissingText] {
        let known = Set(broken.language.catalog.missingKeys(comparedTo: .english))
        return broken.missingKeys(comparedTo: reference).filter { !known.contains($0) }
    }

    @Test("the check finds one text taken out of one language", arguments: [
        (Language.fr, ["messages", "subject.title"], "messages.subject.title"),
        (.de, ["messages", "common.duration.days"], "messages.common.duration.days"),
        (.en, ["messages", "org.footer"], "messages.org.footer"),
        (.es, ["categories", "user.contact.email"], "categories.user.contact.email"),
        (.fr, ["uses", "marketing"], "uses.marketing"),
        (.de, ["event_types", "erasure_request"], "event_types.erasure_request"),
        (.es, ["severities", "critical"], "severities.critical"),
        (.fr, ["kind_sentences", "threshold"], "kind_sentences.threshold"),
        (.de, ["sources", "gpc"], "sources.gpc"),
        (.es, ["month_names", "12"], "month_names.12"),
    ])
    func aMissingTextIsFound(_ language: Language, _ path: [String], _ key: String) throws {
        let broken = try Self.catalog(language, without: path)
        #expect(Self.newlyMissing(broken) == [MissingText(language: language, key: key)])
        #expect(broken.missingKeys(comparedTo: .english).contains(MissingText(language: language, key: key)))
    }

    @Test("a name English lacks is not asked of other languages")
    func englishIsTheReferenceForNames() throws {
        let en = try Self.catalog(.en, without: ["categories", "user.contact.email"])
        let de = try Self.catalog(.de, without: ["categories", "user.contact.email"])
        #expect(Self.newlyMissing(de, comparedTo: en) == [])
        #expect(Self.newlyMissing(de) == [MissingText(language: .de, key: "categories.user.contact.email")])
    }

    @Test("a catalog file that is not one says where", arguments: [
        (#"[1]"#, "a catalog is a JSON object"),
        (#"{"grouping_separator": ",", "messages": {"subject.titel": "x"}}"#, "messages.subject.titel is no message"),
        (#"{"grouping_separator": ",", "messages": {"common.duration.days": {"one": "x"}}}"#, "messages.common.duration.days must be a text"),
        (#"{"grouping_separator": ",", "uses": {"marketing": 3}}"#, "uses.marketing must be a text"),
        (#"{"grouping_separator": ",", "month_names": "January"}"#, "month_names must be an array"),
        (#"{"grouping_separator": ",", "roles": {}}"#, "unknown section 'roles'"),
        (#"{"messages": {}}"#, "grouping_separator must be a text"),
        (#"{"messages": "#, "not JSON"),
    ])
    func malformed(_ text: String, _ expected: String) {
        let error = #expect(throws: DigestError.self) { try Catalog(language: .en, jsonText: text) }
        #expect(error?.code == .malformed && error?.message.contains(expected) == true, "\(String(describing: error))")
    }

    @Test("each language's file is compiled in and reads as its catalog")
    func embedded() {
        for language in Language.allCases {
            #expect(language.catalog.language == language)
            #expect(!Catalog.embeddedFile(language).isEmpty)
        }
        #expect(Catalog.french.groupingSeparator == "\u{202F}" && Catalog.english.text(.subjectTitle, ["month": "May"]) == "Your data in May")
    }

    @Test("every data category and data use of the built-in taxonomy has its own name", arguments: Language.allCases)
    func everyTaxonomyKey(_ language: Language) {
        #expect(Self.taxonomy.categories.count == 85 && Self.taxonomy.uses.count == 56)
        let (categories, uses) = language.catalog.unnamedKeys(in: Self.taxonomy)
        #expect(categories.isEmpty, "\(language): categories fall back to a parent's name: \(categories)")
        #expect(uses.isEmpty, "\(language): uses fall back to a parent's name: \(uses)")
        let extra = Set(language.catalog.categories.keys).subtracting(Self.taxonomy.categories.entries.map(\.key))
            .union(Set(language.catalog.uses.keys).subtracting(Self.taxonomy.uses.entries.map(\.key)))
        #expect(extra.isEmpty, "\(language): names for keys not in the taxonomy: \(extra)")
    }

    @Test("a translation has the same placeholders and plural forms as English", arguments: Language.allCases)
    func placeholders(_ language: Language) {
        func holes(_ s: String) -> Set<String> {
            Set(s.matches(of: /\{([a-z]+)\}/).map { String($0.output.1) })
        }
        func forms(_ t: CatalogText?) -> [String] {
            switch t {
            case .plain(let s)?: [s]
            case .plural(let one, let other)?: [one, other]
            case nil: []
            }
        }
        for message in Message.allCases {
            let en = forms(Catalog.english.messages[message]), other = forms(language.catalog.messages[message])
            #expect(en.count == other.count, "\(language) \(message.rawValue): plural forms differ from English")
            let expected = en.map(holes).reduce(Set()) { $0.union($1) }
            for form in other {
                // `{count}` may be spelled out in a singular form ("once"); every other placeholder must be there.
                #expect(holes(form).subtracting(["count"]) == expected.subtracting(["count"]) && holes(form).isSubset(of: expected),
                        "\(language) \(message.rawValue): '\(form)' has placeholders \(holes(form)), English \(expected)")
            }
        }
    }

    @Test("names are unique within a language, so two purposes never read the same", arguments: Language.allCases)
    func uniqueNames(_ language: Language) {
        for (kind, names) in [("categories", language.catalog.categories), ("uses", language.catalog.uses)] {
            let dupes = Dictionary(grouping: names, by: \.value).filter { $0.value.count > 1 }.keys
            #expect(dupes.isEmpty, "\(language) \(kind): the same name twice: \(dupes.sorted())")
        }
    }

    @Test func fallbackToParentOnlyWhenMissing() {
        var c = Catalog.english
        c.categories["user.contact.email"] = nil
        #expect(c.categoryName("user.contact.email") == "Contact details")
        #expect(c.categoryName("user.contact") == "Contact details")
        #expect(c.categoryName("acme_internal.widget_log") == "Widget log")
        #expect(c.unnamedKeys(in: Self.taxonomy).categories == ["user.contact.email"])
        #expect(c.text(Message.allCases[0]) == "Skip to the content")
        c.messages[.subjectTitle] = nil
        #expect(c.text(.subjectTitle) == "⟦subject.title⟧")
    }

    @Test func pluralsNumbersDatesDurations() {
        #expect(Catalog.english.text(.problemItem, ["problem": "X"], count: 1) == "X (once)")
        #expect(Catalog.english.text(.problemItem, ["problem": "X"], count: 1234) == "X (1,234 times)")
        #expect(Catalog.german.number(12067) == "12.067")
        #expect(Catalog.french.number(1234567) == "1\u{202F}234\u{202F}567")
        #expect(Catalog.french.text(.durationDays, count: 0) == "0 jour")
        #expect(Catalog.english.duration(.days(2555)) == "7 years")
        #expect(Catalog.spanish.duration(.days(30)) == "30 días")
        #expect(Catalog.german.duration(.hours(48)) == "2 Tage")
        #expect(Catalog.english.duration(.hours(36)) == "36 hours")
        #expect(Catalog.german.date(Fixtures.time("2026-03-05T10:00:00Z")) == "5. März 2026")
        #expect(Catalog.spanish.month("2026-01") == "enero de 2026")
        #expect(Catalog.english.list(["A", "B", "C"]) == "A, B and C")
        // A value is never scanned again for placeholders.
        #expect(Catalog.fill("{a} {b}", ["a": "{b}", "b": "x"]) == "{b} x")
    }
}
