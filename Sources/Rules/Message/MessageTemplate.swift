import Events

/// A rule's `message` in one language, compiled once when the pipeline loads: literal text and references to fields
/// of the violation, rendered from the violation itself (docs/rules.md, "Messages").
public struct MessageTemplate: Sendable {
    enum Source: Sendable, Equatable {
        case id, rule, kind, reason, severity, time, subject, actor, event, detectedAt
        /// A key of the evidence, nested keys dotted (`clock.category`).
        case evidence(String)

        static let named: [String: Source] = [
            "id": .id, "rule": .rule, "kind": .kind, "reason": .reason, "severity": .severity, "time": .time,
            "subject": .subject, "actor": .actor, "event": .event, "detected_at": .detectedAt,
        ]

        init(_ name: String) { self = Self.named[name] ?? .evidence(name) }
    }

    enum Format: Sendable {
        case plain, date, time
    }

    enum Segment: Sendable {
        case text(String)
        /// A field, formatted; `fallback` stands in when the violation lacks it (or it is empty).
        case field(Source, Format, fallback: String?)
    }

    /// The template as written.
    public let text: String
    public let language: MessageLanguage
    let segments: [Segment]

    /// The message of `violation`.
    public func render(_ violation: Violation) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 64)
        for segment in segments {
            switch segment {
            case .text(let literal):
                out += literal
            case .field(let source, let format, let fallback):
                if let value = value(source, format, of: violation), !value.isEmpty {
                    out += value
                } else if let fallback {
                    out += fallback
                }
            }
        }
        return out
    }

    func value(_ source: Source, _ format: Format, of v: Violation) -> String? {
        switch source {
        case .id: v.id
        case .rule: v.rule
        case .kind: v.kind.rawValue
        case .reason: v.reason
        case .severity: v.severity.name
        case .time: formatted(v.time, format)
        case .subject: v.subject
        case .actor: v.actor
        case .event: v.event
        case .detectedAt: formatted(v.detectedAt, format)
        case .evidence(let path): Self.lookup(path[...], in: v.evidence).flatMap { text($0, format) }
        }
    }

    private func formatted(_ time: Timestamp, _ format: Format) -> String {
        switch format {
        case .plain: time.rfc3339
        case .date: language.date(time)
        case .time: language.time(time)
        }
    }

    /// A value as text: lists joined with ", ", times (RFC 3339 text) formatted; nil for nothing to show.
    private func text(_ value: JSONValue, _ format: Format) -> String? {
        switch value {
        case .string(let s):
            guard format != .plain, let time = Timestamp(rfc3339: s) else { return s }
            return formatted(time, format)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .array(let items):
            let parts = items.compactMap { text($0, format) }.filter { !$0.isEmpty }
            return parts.isEmpty ? nil : parts.joined(separator: ", ")
        case .object, .null: return nil
        }
    }

    /// The value at a dotted path. Keys may hold dots themselves (`attributes.ticket-id.v2`, `group.attributes.x`),
    /// so each key is matched as a prefix of the path; through a list, the values of every element, as a list.
    static func lookup(_ path: Substring, in value: JSONValue) -> JSONValue? {
        switch value {
        case .object(let pairs):
            for (key, child) in pairs {
                guard let rest = remainder(of: path, after: key) else { continue }
                if rest.isEmpty { return child }
                if rest.first == ".", let found = lookup(rest.dropFirst(), in: child) { return found }
            }
            return nil
        case .array(let items):
            let found = items.compactMap { lookup(path, in: $0) }
            return found.isEmpty ? nil : .array(found)
        default:
            return nil
        }
    }

    /// `path` after `key` when it starts with it, compared as characters (canonical equivalence). When both are ASCII
    /// and the key holds no CR, every byte is a character, so the bytes are compared instead.
    static func remainder(of path: Substring, after key: String) -> Substring? {
        let k = key.utf8, p = path.utf8
        if k.allSatisfy({ $0 < 0x80 && $0 != 13 }), p.allSatisfy({ $0 < 0x80 }) {
            guard p.starts(with: k) else { return nil }
            return path[p.index(p.startIndex, offsetBy: k.count)...]
        }
        guard path.hasPrefix(key) else { return nil }
        return path.dropFirst(key.count)
    }
}
