/// A rendered digest before it becomes HTML or Markdown: the content is built once, in one language, and both
/// outputs are written from it. All strings here are plain text; the writers escape them.
struct Document {
    var language: Language
    var title: String
    /// Under the title, in the page header.
    var lead: [Block]
    var sections: [Section]
    var footer: [Block]
}

struct Section {
    /// The fragment id (`choices`, `access`, …).
    var id: String
    var heading: String
    var blocks: [Block]
}

enum Inline {
    case text(String)
    case strong(String)
    case link(String, url: String)
}

struct Table {
    var caption: String
    var columns: [String]
    var rows: [[String]]
    /// Columns holding numbers (right-aligned).
    var numeric: Set<Int> = []
}

/// Bars with a label and a value each; an inline SVG in HTML, a table in Markdown.
struct Chart {
    var id: String
    var title: String
    /// Column headings when the chart is written as a table.
    var labelHeading: String
    var valueHeading: String
    var bars: [(label: String, value: Int, text: String)]
}

/// The customer's consent choices: a table of purpose and choice; with an opt-out action (from the portal), a third
/// column holds a form with an opt-out button for each purpose not already refused.
struct ChoicesBlock {
    var table: Table
    /// Purpose key and button text per row; nil where the row has no button.
    var buttons: [(purpose: String, label: String)?]
    var action: OptOutAction?
    var actionColumn: String
    var note: String
}

enum Block {
    case paragraph([Inline])
    case list([[Inline]])
    /// Label–value pairs (key figures).
    case facts([(label: String, value: String)])
    case table(Table)
    case chart(Chart)
    case choices(ChoicesBlock)
}
