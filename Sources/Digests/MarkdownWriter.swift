/// Writes a `Document` as Markdown for email: headings, lists and tables; charts become tables with text bars;
/// the opt-out forms are left out (an email cannot post them).
struct MarkdownWriter {
    static func write(_ doc: Document) -> String {
        var out = "# " + Escape.markdown(doc.title) + "\n\n"
        out += blocks(doc.lead)
        for section in doc.sections {
            out += "## " + Escape.markdown(section.heading) + "\n\n" + blocks(section.blocks)
        }
        out += "---\n\n" + blocks(doc.footer)
        return out
    }

    static func blocks(_ blocks: [Block]) -> String {
        blocks.map(block).joined()
    }

    static func block(_ block: Block) -> String {
        switch block {
        case .paragraph(let inlines):
            return inline(inlines) + "\n\n"
        case .list(let items):
            return items.map { "- " + inline($0) + "\n" }.joined() + "\n"
        case .facts(let facts):
            return facts.map { "- " + Escape.markdown($0.label, lineStart: true) + ": **" + Escape.markdown($0.value) + "**\n" }.joined() + "\n"
        case .table(let t):
            return table(t)
        case .chart(let c):
            let maxValue = max(1, c.bars.map(\.value).max() ?? 1)
            let rows = c.bars.map { bar -> [String] in
                let filled = bar.value == 0 ? 0 : max(1, Int((20.0 * Double(bar.value) / Double(maxValue)).rounded()))
                return [bar.label, bar.text, String(repeating: "█", count: filled)]
            }
            return table(Table(caption: c.title, columns: [c.labelHeading, c.valueHeading, ""], rows: rows, numeric: [1]))
        case .choices(let c):
            // An email cannot post the opt-out forms: the choices only.
            return table(c.table)
        }
    }

    /// A paragraph or list item: its first text starts a line.
    static func inline(_ inlines: [Inline]) -> String {
        inlines.enumerated().map { n, i -> String in
            switch i {
            case .text(let s): Escape.markdown(s, lineStart: n == 0)
            case .strong(let s): "**" + Escape.markdown(s) + "**"
            case .link(let text, let url):
                Escape.url(url).map { "[" + Escape.markdown(text) + "](<" + $0 + ">)" } ?? Escape.markdown(text)
            }
        }.joined()
    }

    static func table(_ t: Table) -> String {
        var out = "**" + Escape.markdown(t.caption) + "**\n\n"
        let head = t.columns
        out += "| " + head.map { Escape.markdown($0) }.joined(separator: " | ") + " |\n"
        out += "|" + head.indices.map { t.numeric.contains($0) ? " ---: |" : " --- |" }.joined() + "\n"
        for row in t.rows {
            out += "| " + row.map { Escape.markdown($0) }.joined(separator: " | ") + " |\n"
        }
        return out + "\n"
    }
}
