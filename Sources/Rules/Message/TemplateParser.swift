extension MessageTemplate {
    /// Compiles a template for `language`, checking each placeholder against the fields violations have. Faults are
    /// at positions of `text` (1-based line and column), every one reported.
    static func compile(
        _ text: String, language: MessageLanguage, fields: ViolationFields
    ) -> Result<MessageTemplate, ExpressionIssues> {
        var parser = TemplateParser(chars: Array(text), fields: fields)
        parser.parse()
        guard parser.issues.isEmpty else { return .failure(ExpressionIssues(parser.issues)) }
        return .success(MessageTemplate(text: text, language: language, segments: parser.segments))
    }
}

extension RuleError.Code {
    /// A filter of a message template that does not exist (`{time|dat}`).
    public static let unknownFilter = RuleError.Code("unknown_filter")
}

/// `literal {field|filter|…} literal`, where `{{` and `}}` stand for braces.
private struct TemplateParser {
    static let filters = ["date", "time", "or:"]

    let chars: [Character]
    let fields: ViolationFields
    var issues: [ExpressionIssue] = []
    var segments: [MessageTemplate.Segment] = []
    private var literal = ""

    init(chars: [Character], fields: ViolationFields) {
        self.chars = chars
        self.fields = fields
    }

    mutating func parse() {
        if let newline = chars.firstIndex(where: \.isNewline) {
            fault(.syntax, "a message is one line", at: newline)
        }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let next = i + 1 < chars.count ? chars[i + 1] : nil
            if (c == "{" || c == "}") && next == c {
                literal.append(c)
                i += 2
            } else if c == "{" {
                guard let close = chars[(i + 1)...].firstIndex(where: { $0 == "}" || $0 == "{" }), chars[close] == "}" else {
                    fault(.syntax, "'{' has no '}' to close it; write {{ for a brace itself", at: i)
                    break
                }
                placeholder(from: i + 1, to: close)
                i = close + 1
            } else if c == "}" {
                fault(.syntax, "'}' has no '{' before it; write }} for a brace itself", at: i)
                i += 1
            } else {
                literal.append(c)
                i += 1
            }
        }
        if !literal.isEmpty { segments.append(.text(literal)) }
    }

    /// `field|filter|…` between `start` and `end` (the index of `}`).
    private mutating func placeholder(from start: Int, to end: Int) {
        var parts: [(text: String, at: Int)] = []
        var partStart = start
        for i in start...end where i == end || chars[i] == "|" {
            parts.append(trimmed(partStart, i))
            partStart = i + 1
        }
        let (name, nameAt) = parts[0]
        let field = name.isEmpty ? nil : check(name, at: nameAt)
        if name.isEmpty {
            fault(.syntax, "a placeholder names a field, as in {subject}", at: nameAt)
        }
        var format = MessageTemplate.Format.plain
        var fallback: String?
        for (filter, at) in parts.dropFirst() {
            if fallback != nil {
                fault(.syntax, "or: comes once, after the other filters", at: at)
            }
            switch filter {
            case "date", "time":
                if format != .plain { fault(.syntax, "a field takes one of the filters date and time", at: at) }
                format = filter == "date" ? .date : .time
                if let field, !field.shape.isTime {
                    fault(.type, "'\(name)' is not a time: the filter \(filter) formats times, such as time or detected_at", at: at)
                }
            case let f where f.hasPrefix("or:"):
                fallback = String(f.dropFirst(3).drop { $0 == " " })
            case "or":
                fault(.unknownFilter, "the filter or needs the text to show instead, as in or:someone", at: at)
            case "":
                fault(.syntax, "'|' is followed by no filter", at: at)
            default:
                let hint = Suggestion.hint(for: filter, among: Self.filters)
                fault(.unknownFilter, "unknown filter '\(filter)'; the filters are date, time and or:TEXT\(hint)", at: at)
            }
        }
        if let field, !field.always, fallback == nil {
            let only = field.onlyFor.isEmpty
                ? "not in every one of \(fields.scope)"
                : "only in this rule's \(field.onlyFor.joined(separator: " and ")) violations"
            let perReason = field.onlyFor.isEmpty ? "" : ", or write a message for each reason"
            fault(.type, "'\(name)' is \(only): give it a text to show instead, as in {\(name)|or:…}\(perReason)", at: nameAt)
        }
        if !literal.isEmpty {
            segments.append(.text(literal))
            literal = ""
        }
        segments.append(.field(MessageTemplate.Source(name), format, fallback: fallback))
    }

    /// The field `name`, or a fault saying why it is none.
    private mutating func check(_ name: String, at offset: Int) -> ViolationFields.Field? {
        if let field = fields.field(name) { return field }
        let names = fields.names
        let inside = names.filter { $0.hasPrefix(name + ".") }
        let message: String
        if name.hasPrefix("evidence."), fields.field(String(name.dropFirst(9))) != nil {
            message = "the evidence's keys are named without 'evidence.': write {\(name.dropFirst(9))}"
        } else if name == "attributes", fields.attributes {
            message = "'attributes' holds the event's attributes: name one, as in {attributes.ticket|or:…}"
        } else if !inside.isEmpty {
            message = "'\(name)' holds several fields: name one of \(inside.joined(separator: ", "))"
        } else if name == "message" {
            message = "a message cannot name the message itself"
        } else {
            let hint = Suggestion.hint(for: name, among: names.filter { $0 != "attributes.KEY" })
            let known = hint.isEmpty ? " (its fields: \(names.joined(separator: ", ")))" : hint
            message = "'\(name)' is not a field of \(fields.scope)\(known)"
        }
        fault(.unknownField, message, at: offset)
        return nil
    }

    /// The text between two indices without surrounding spaces, and where it starts.
    private func trimmed(_ start: Int, _ end: Int) -> (text: String, at: Int) {
        var from = start, to = end
        while from < to, chars[from] == " " { from += 1 }
        while to > from, chars[to - 1] == " " { to -= 1 }
        return (String(chars[from..<to]), from)
    }

    private mutating func fault(_ code: RuleError.Code, _ message: String, at offset: Int) {
        var line = 1, column = 1
        for c in chars[..<min(offset, chars.count)] {
            if c.isNewline { line += 1; column = 1 } else { column += 1 }
        }
        issues.append(ExpressionIssue(code, message, at: SourcePosition(line: line, column: column)))
    }
}
