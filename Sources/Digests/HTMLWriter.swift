/// Writes a `Document` as one self-contained HTML page: inline CSS, no scripts, no external assets; fluid up to a
/// max-width column, tables that turn into stacked rows on narrow screens, charts as inline SVG.
struct HTMLWriter {
    var out = ""

    static func write(_ doc: Document) -> String {
        var w = HTMLWriter()
        w.document(doc)
        return w.out
    }

    private mutating func document(_ doc: Document) {
        let lang = doc.language.rawValue
        out += """
        <!DOCTYPE html>
        <html lang="\(lang)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light">
        <title>\(Escape.html(doc.title))</title>
        <style>\(HTMLWriter.css)</style>
        </head>
        <body>
        <a class="skip" href="#main">\(Escape.html(doc.language.catalog.text(.skipToContent)))</a>
        <header class="top"><div class="wrap">
        <h1>\(Escape.html(doc.title))</h1>

        """
        blocks(doc.lead)
        out += "</div></header>\n<main id=\"main\" class=\"wrap\">\n"
        for section in doc.sections {
            let hid = "h-" + section.id
            out += "<section id=\"\(section.id)\" aria-labelledby=\"\(hid)\">\n<h2 id=\"\(hid)\">\(Escape.html(section.heading))</h2>\n"
            blocks(section.blocks)
            out += "</section>\n"
        }
        out += "</main>\n<footer class=\"bottom\"><div class=\"wrap\">\n"
        blocks(doc.footer)
        out += "</div></footer>\n</body>\n</html>\n"
    }

    private mutating func blocks(_ blocks: [Block]) {
        for b in blocks { block(b) }
    }

    private mutating func block(_ block: Block) {
        switch block {
        case .paragraph(let inlines):
            out += "<p>" + HTMLWriter.inline(inlines) + "</p>\n"
        case .list(let items):
            out += "<ul>\n" + items.map { "<li>" + HTMLWriter.inline($0) + "</li>\n" }.joined() + "</ul>\n"
        case .facts(let facts):
            out += "<dl class=\"facts\">\n"
            for f in facts {
                out += "<div><dt>\(Escape.html(f.label))</dt><dd>\(Escape.html(f.value))</dd></div>\n"
            }
            out += "</dl>\n"
        case .table(let t):
            table(t)
        case .chart(let c):
            chart(c)
        case .choices(let c):
            choices(c)
        }
    }

    static func inline(_ inlines: [Inline]) -> String {
        inlines.map { i -> String in
            switch i {
            case .text(let s): Escape.html(s)
            case .strong(let s): "<strong>" + Escape.html(s) + "</strong>"
            case .link(let text, let url):
                Escape.url(url).map { "<a href=\"\($0)\">" + Escape.html(text) + "</a>" } ?? Escape.html(text)
            }
        }.joined()
    }

    /// A table whose first cell heads each row; `data-label` names the column when rows stack on a phone.
    /// `extra` adds a last column of ready-made HTML.
    private mutating func table(_ t: Table, extra: (heading: String, cells: [String])? = nil) {
        // Two columns fit a phone; wider tables turn into stacked rows there.
        let columns = t.columns.count + (extra == nil ? 0 : 1)
        out += "<table\(columns > 2 ? " class=\"stack\"" : "")>\n<caption>\(Escape.html(t.caption))</caption>\n<thead><tr>"
        for (i, c) in t.columns.enumerated() {
            out += "<th scope=\"col\"\(t.numeric.contains(i) ? " class=\"num\"" : "")>\(Escape.html(c))</th>"
        }
        if let extra { out += "<th scope=\"col\">\(Escape.html(extra.heading))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        for (r, row) in t.rows.enumerated() {
            out += "<tr>"
            for (i, cell) in row.enumerated() {
                let label = i < t.columns.count ? Escape.html(t.columns[i]) : ""
                let cls = t.numeric.contains(i) ? " class=\"num\"" : ""
                if i == 0 {
                    out += "<th scope=\"row\" data-label=\"\(label)\">\(Escape.html(cell))</th>"
                } else {
                    out += "<td\(cls) data-label=\"\(label)\">\(Escape.html(cell))</td>"
                }
            }
            if let extra { out += "<td class=\"action\">\(r < extra.cells.count ? extra.cells[r] : "")</td>" }
            out += "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
    }

    /// A horizontal bar chart. Sizes in percent of the chart's width, so it fits any screen without scaling the
    /// text; the label stands above each bar and the value beside it.
    private mutating func chart(_ c: Chart) {
        let id = "chart-\(c.id)"
        let rowHeight = 44
        let height = max(1, c.bars.count) * rowHeight + 4
        let maxValue = max(1, c.bars.map(\.value).max() ?? 1)
        let summary = c.bars.map { "\($0.label): \($0.text)" }.joined(separator: "; ")
        out += "<figure class=\"chart\">\n"
        out += "<svg role=\"img\" aria-labelledby=\"\(id)-title \(id)-desc\" width=\"100%\" height=\"\(height)\" "
        out += "xmlns=\"http://www.w3.org/2000/svg\">\n"
        out += "<title id=\"\(id)-title\">\(Escape.html(c.title))</title>\n<desc id=\"\(id)-desc\">\(Escape.html(summary))</desc>\n"
        for (i, bar) in c.bars.enumerated() {
            let y = i * rowHeight
            let width = max(0.5, 78.0 * Double(bar.value) / Double(maxValue))
            let w = (width * 10).rounded() / 10
            let label = Escape.html(bar.label)
            out += "<g aria-label=\"\(label): \(Escape.html(bar.text))\">"
            out += "<text x=\"0\" y=\"\(y + 15)\" class=\"bar-label\">\(label)</text>"
            out += "<rect x=\"0\" y=\"\(y + 21)\" width=\"\(w)%\" height=\"16\" rx=\"2\" class=\"bar\"><title>\(label): \(Escape.html(bar.text))</title></rect>"
            out += "<text x=\"\(w + 1.5)%\" y=\"\(y + 34)\" class=\"bar-value\">\(Escape.html(bar.text))</text></g>\n"
        }
        out += "</svg>\n<figcaption>\(Escape.html(c.title))</figcaption>\n</figure>\n"
    }

    /// The consent choices; with an opt-out action, a `<form method="post">` per purpose the customer has not
    /// refused, carrying the CSRF token and the purpose key.
    private mutating func choices(_ c: ChoicesBlock) {
        // No forms without an action, with nothing left to refuse, or with a URL that is not http(s) or a path.
        guard let action = c.action, let url = Escape.url(action.url), !action.url.lowercased().hasPrefix("mailto:"),
              c.buttons.contains(where: { $0 != nil }) else {
            table(c.table)
            return
        }
        let forms = c.buttons.map { button -> String in
            guard let button else { return "" }
            return "<form method=\"post\" action=\"\(url)\" class=\"optout\">"
                + "<input type=\"hidden\" name=\"\(Escape.html(action.csrfField))\" value=\"\(Escape.html(action.purposeTokens[button.purpose] ?? action.csrfToken))\">"
                + "<input type=\"hidden\" name=\"\(Escape.html(action.purposeField))\" value=\"\(Escape.html(button.purpose))\">"
                + "<button type=\"submit\">\(Escape.html(button.label))</button></form>"
        }
        out += "<!-- Opt-out: one form per consent-based purpose, posted to the portal with its CSRF token. -->\n"
        table(c.table, extra: (c.actionColumn, forms))
        out += "<p class=\"note\">\(Escape.html(c.note))</p>\n"
    }

    /// Colours meet WCAG AA (text ≥ 4.5:1) on their backgrounds.
    static let css = """

    *,*::before,*::after{box-sizing:border-box}
    html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
    body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1b1f;background:#f6f7f9;overflow-wrap:anywhere}
    .wrap{max-width:46rem;margin:0 auto;padding:0 1rem}
    .skip{position:absolute;left:-999rem}
    .skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}
    .top{background:#123c69;color:#fff;padding:1.25rem 0 1rem}
    .top h1{margin:0 0 .5rem;font-size:1.6rem;line-height:1.25}
    .top p{margin:.25rem 0;color:#e8eef5}
    main{padding-top:.5rem;padding-bottom:1rem}
    section{background:#fff;border:1px solid #d9dde3;border-radius:.5rem;padding:.25rem 1rem 1rem;margin:1rem 0}
    h2{font-size:1.25rem;margin:.75rem 0 .5rem;color:#123c69}
    a{color:#0b4f9c}
    ul{padding-left:1.25rem}
    li{margin:.25rem 0}
    .facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.5rem;margin:.5rem 0}
    .facts div{background:#eef2f7;border-radius:.4rem;padding:.5rem .75rem}
    .facts dt{font-size:.875rem;color:#3d4450}
    .facts dd{margin:0;font-size:1.4rem;font-weight:700;color:#123c69}
    table{width:100%;border-collapse:collapse;margin:.75rem 0}
    caption{text-align:left;font-weight:600;padding:.25rem 0;color:#3d4450}
    th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
    thead th{font-size:.875rem;color:#3d4450;border-bottom:2px solid #c9ced6}
    tbody th{font-weight:500}
    .num{text-align:right;font-variant-numeric:tabular-nums}
    form.optout{margin:0}
    td.action{text-align:left}
    button{font:inherit;font-weight:600;color:#fff;background:#a4262c;border:0;border-radius:.4rem;padding:.6rem 1rem;min-height:2.75rem;cursor:pointer;max-width:100%;text-align:left}
    button:hover,button:focus{background:#7c1d22}
    button:focus{outline:3px solid #f2b600;outline-offset:2px}
    .note{font-size:.875rem;color:#3d4450}
    .chart{margin:.75rem 0}
    .chart svg{display:block;max-width:100%}
    .chart figcaption{font-size:.875rem;color:#3d4450}
    .bar{fill:#2763a8}
    .bar-label{font-size:14px;fill:#1b1b1f}
    .bar-value{font-size:13px;font-weight:700;fill:#1b1b1f}
    .bottom{border-top:1px solid #d9dde3;background:#fff;padding:1rem 0;font-size:.875rem;color:#3d4450}
    @media (max-width:36rem){
    .top h1{font-size:1.35rem}
    section{padding:.25rem .75rem .75rem}
    table.stack thead{position:absolute;left:-999rem}
    table.stack,table.stack caption,table.stack tbody,table.stack tr,table.stack th,table.stack td{display:block;width:100%}
    table.stack tr{border-bottom:1px solid #e3e6ea;padding:.25rem 0}
    table.stack th,table.stack td{border:0;padding:.1rem 0;text-align:left}
    table.stack tbody th{font-weight:600}
    table.stack td[data-label]::before{content:attr(data-label) ": ";color:#3d4450}
    html[lang=fr] table.stack td[data-label]::before{content:attr(data-label) "\\a0: "}
    table.stack td.action{padding:.4rem 0 .25rem}
    table.stack td:empty{display:none}
    }
    @media print{.skip,.optout,.note{display:none}body{background:#fff}section{border:0}}

    """
}
