import Foundation

/// Renders digests for people: the customer's page and the organisation report, as HTML or Markdown, in one
/// language. HTML pages are self-contained (inline CSS, no scripts, no external assets) and escape every value.
public struct DigestRenderer: Sendable {
    public var language: Language
    public var context: DigestContext

    public init(language: Language, context: DigestContext = DigestContext()) {
        self.language = language
        self.context = context
    }

    public func subjectHTML(_ digest: SubjectDigest) -> String { HTMLWriter.write(subjectDocument(digest)) }
    public func subjectMarkdown(_ digest: SubjectDigest) -> String { MarkdownWriter.write(subjectDocument(digest)) }
    public func orgHTML(_ digest: OrgDigest) -> String { HTMLWriter.write(orgDocument(digest)) }
    public func orgMarkdown(_ digest: OrgDigest) -> String { MarkdownWriter.write(orgDocument(digest)) }

    func subjectDocument(_ digest: SubjectDigest) -> Document {
        SubjectPage(catalog: language.catalog, context: context, digest: digest).document()
    }

    func orgDocument(_ digest: OrgDigest) -> Document {
        OrgReport(catalog: language.catalog, context: context, digest: digest).document()
    }
}

/// The output formats of `digest render`.
public enum DigestFormat: String, CaseIterable, Sendable {
    case html, md, json
}

extension Catalog {
    /// Counts largest first, then by key: the rows of a table or chart.
    static func ranked(_ counts: [String: Int]) -> [(key: String, count: Int)] {
        counts.map { (key: $0.key, count: $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.key < $1.key }
    }

    /// A two-column table (name, how often) from counts.
    func countTable(_ caption: Message, _ column: Message, _ counts: [String: Int], name: (String) -> String) -> Table {
        Table(caption: text(caption), columns: [text(column), text(.columnCount)],
              rows: Catalog.ranked(counts).map { [name($0.key), number($0.count)] }, numeric: [1])
    }

    /// A bar chart from counts, largest first.
    func chart(_ id: String, _ title: Message, _ counts: [(key: String, count: Int)], name: (String) -> String) -> Chart {
        Chart(id: id, title: text(title), labelHeading: text(title), valueHeading: text(.columnCount),
              bars: counts.map { (label: name($0.key), value: $0.count, text: number($0.count)) })
    }

    /// The organisation's name, or a neutral stand-in when the pipeline names none.
    func organisationName(_ context: DigestContext) -> String {
        let name = context.organisation.name.trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? text(.unnamedOrganisation) : name
    }

    /// The contact line of a page footer.
    func contactBlocks(_ context: DigestContext) -> [Block] {
        var blocks: [Block] = []
        if let email = context.organisation.contactEmail, !email.isEmpty {
            let parts = text(.contactEmail, ["email": "\u{0}"]).components(separatedBy: "\u{0}")
            blocks.append(.paragraph([.text(parts[0]), .link(email, url: "mailto:" + email), .text(parts.dropFirst().joined())]))
        }
        if let url = context.organisation.privacyURL, !url.isEmpty {
            blocks.append(.paragraph([.link(text(.contactPrivacy), url: url)]))
        }
        return blocks
    }
}
