@testable import Digests
import Events
import Foundation
import Testing

@Suite("Catalogs")
struct CatalogTests {
    static let taxonomy = try! Taxonomy.builtin()

    @Test("every UI string exists", arguments: Language.allCases)
    func everyMessage(_ language: Language) {
        let missing = Message.allCases.filter { language.catalog.messages[$0] == nil }
        #expect(missing.isEmpty, "\(language): no text for \(missing.map(\.rawValue))")
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

    @Test("names, roles, sources, event types and rules cover what English covers", arguments: Language.allCases)
    func sameCoverageAsEnglish(_ language: Language) {
        let en = Catalog.english, c = language.catalog
        #expect(Set(c.roles.keys) == Set(en.roles.keys))
        #expect(Set(c.sources.keys) == Set(en.sources.keys))
        #expect(Set(c.eventTypes.keys) == Set(en.eventTypes.keys))
        #expect(Set(c.severities.keys) == Set(en.severities.keys))
        #expect(Set(c.ruleSentences.keys) == Set(en.ruleSentences.keys))
        #expect(Set(c.ruleTitles.keys) == Set(en.ruleTitles.keys))
        #expect(Set(c.kindSentences.keys) == Set(["match", "consent", "retention", "deadline", "threshold", "access"]))
        #expect(c.monthNames.count == 12)
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
