enum Escape {
    /// Text and attribute values in HTML: `& < > " '`.
    static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline have no business on a page.
                if c.value < 0x20 && c != "\t" && c != "\n" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    /// Text in Markdown: `& < >` as HTML entities (Markdown passes them through), the marks that start emphasis,
    /// code, links or table cells backslash-escaped, at the start of a line a block mark (`#`, `-`, `+`, `1.`)
    /// escaped too, and line breaks folded to spaces, so a name can never become markup.
    static func markdown(_ s: String, lineStart: Bool = false) -> String {
        var out = ""
        for c in html(s).unicodeScalars {
            switch c {
            case "\\", "`", "*", "_", "[", "]", "|", "~": out += "\\" + String(c)
            case "\n", "\r", "\t": out += " "
            default: out.unicodeScalars.append(c)
            }
        }
        guard lineStart else { return out }
        if let first = out.first, "#-+=".contains(first) { out = "\\" + out }
        if let dot = out.firstIndex(where: { !$0.isNumber }), dot != out.startIndex, out[dot] == "." || out[dot] == ")" {
            out.insert("\\", at: dot)
        }
        return out
    }

    /// A URL for `href`/`action`: only http(s) and mailto, else nothing (no `javascript:`).
    static func url(_ s: String) -> String? {
        let lower = s.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") || lower.hasPrefix("mailto:") || lower.hasPrefix("/") else {
            return nil
        }
        return html(s)
    }
}
