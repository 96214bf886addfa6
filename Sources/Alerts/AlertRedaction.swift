import Crypto
import Events
import Foundation

/// What a channel's messages may carry of a violation: the subject (the customer id), the actor and the evidence.
///
/// Applied to a message before its payload is made, so it holds for every place a value appears: the JSON
/// documents, the summary sentence, Slack's fields, PagerDuty's `custom_details`, a Kafka message's key. A hashed
/// value is a keyed HMAC-SHA256 token (`h:` and 16 hex digits): the same value gives the same token in every alert,
/// and only whoever holds the key can tell which value it stands for. Without the evidence, the violation's message
/// goes too (the rules write event details into it) and a neutral sentence takes its place.
public struct AlertRedaction: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        case keep, hash, drop
    }

    public var subject: Mode
    public var actor: Mode
    /// `keep` or `drop`.
    public var evidence: Mode
    /// The HMAC key of `hash` (`alerts.hash_key`); without one, a value to hash is dropped.
    public var key: Secret?

    public init(subject: Mode = .keep, actor: Mode = .keep, evidence: Mode = .keep, key: Secret? = nil) {
        self.subject = subject
        self.actor = actor
        self.evidence = evidence
        self.key = key
    }

    /// Everything kept.
    public static let none = AlertRedaction()

    /// The keys of a `redact:` mapping.
    public static let keys = ["subject", "actor", "evidence"]

    /// The default of a channel type: Slack and PagerDuty are third-party services, outside the privacy perimeter:
    /// the subject is hashed (dropped when no `alerts.hash_key` is configured) and the evidence dropped. Every other
    /// channel keeps everything.
    public static func defaults(forType type: String, key: Secret?) -> AlertRedaction {
        switch type {
        case "slack", "pagerduty": AlertRedaction(subject: key == nil ? .drop : .hash, evidence: .drop, key: key)
        default: AlertRedaction(key: key)
        }
    }

    public var keepsEverything: Bool { subject == .keep && actor == .keep && evidence == .keep }

    /// The token of a hashed value.
    public static func token(_ value: String, key: Secret) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: Data(key.value.utf8)))
        return "h:" + code.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    public func apply(_ message: AlertMessage) -> AlertMessage {
        guard !keepsEverything, message.sample.rule != AlertDispatcher.setAsideRule else { return message }
        var message = message
        message.sample = apply(message.sample)
        return message
    }

    /// The violation with its subject, actor and evidence as configured; a dropped subject is empty, a dropped actor
    /// `nil`, and both are left out of its JSON.
    public func apply(_ v: AlertViolation) -> AlertViolation {
        let subject = replacement(v.subject, subject)
        let actor = v.actor.flatMap { replacement($0, self.actor) }
        var out = v
        out.subject = subject ?? ""
        out.actor = actor
        var substitutions: [(String, String)] = []
        if self.subject != .keep, !v.subject.isEmpty { substitutions.append((v.subject, subject ?? "[subject]")) }
        if self.actor != .keep, let original = v.actor, !original.isEmpty {
            substitutions.append((original, actor ?? "[actor]"))
        }
        // The longer value first, so that one contained in the other is not half replaced.
        substitutions.sort { $0.0.count > $1.0.count }
        if evidence == .drop {
            var parts = [v.reason.isEmpty ? v.rule : v.reason]
            if let actor { parts.append("actor \(actor)") }
            if let subject { parts.append("subject \(subject)") }
            out.message = parts.joined(separator: ", ") + "; details in the violations output"
        } else {
            out.message = Self.substitute(v.message, substitutions)
        }
        guard case .object(let pairs) = v.json else { return out }
        var json: [(String, JSONValue)] = []
        for (name, value) in pairs {
            switch name {
            case "subject": if let subject { json.append((name, .string(subject))) }
            case "actor": if let actor { json.append((name, .string(actor))) }
            case "message": json.append((name, .string(out.message)))
            case "evidence": if evidence != .drop { json.append((name, Self.substitute(value, substitutions))) }
            default: json.append((name, value))
            }
        }
        out.json = .object(json)
        return out
    }

    private func replacement(_ value: String, _ mode: Mode) -> String? {
        switch mode {
        case .keep: value
        case .drop: nil
        case .hash: key.map { Self.token(value, key: $0) }
        }
    }

    /// Replaces each value where it stands as a whole word (not inside a longer name or number: the subject `1` is
    /// not every digit 1).
    static func substitute(_ text: String, _ substitutions: [(String, String)]) -> String {
        substitutions.reduce(text) { replacingWhole($0, $1.0, with: $1.1) }
    }

    private static func replacingWhole(_ text: String, _ value: String, with replacement: String) -> String {
        guard !value.isEmpty, text.contains(value) else { return text }
        func isWordCharacter(_ c: Character?) -> Bool {
            guard let c else { return false }
            return c.isLetter || c.isNumber || c == "_" || c == "-"
        }
        var out = ""
        var rest = text[...]
        while let range = rest.range(of: value) {
            // A dot joins words (`cust.42`) but also ends a sentence (`… 42.`): it counts only inside a word.
            var before = range.lowerBound > text.startIndex ? text[text.index(before: range.lowerBound)] : nil
            if before == ".", text.index(before: range.lowerBound) > text.startIndex {
                before = text[text.index(text.index(before: range.lowerBound), offsetBy: -1)]
            }
            var after = range.upperBound < text.endIndex ? text[range.upperBound] : nil
            if after == ".", text.index(after: range.upperBound) < text.endIndex { after = text[text.index(after: range.upperBound)] }
            out += rest[..<range.lowerBound]
            // A value that itself ends in a word character must not run on into one.
            let whole = !(isWordCharacter(before) && isWordCharacter(value.first))
                && !(isWordCharacter(after) && isWordCharacter(value.last))
            out += whole ? replacement : String(rest[range])
            rest = rest[range.upperBound...]
        }
        return out + rest
    }

    /// Strings, object keys, and numbers that spell a replaced value.
    private static func substitute(_ value: JSONValue, _ substitutions: [(String, String)]) -> JSONValue {
        guard !substitutions.isEmpty else { return value }
        switch value {
        case .string(let s): return .string(substitute(s, substitutions))
        case .array(let items): return .array(items.map { substitute($0, substitutions) })
        case .object(let pairs): return .object(pairs.map { (substitute($0.0, substitutions), substitute($0.1, substitutions)) })
        case .int(let n):
            let text = String(n)
            return substitutions.first { $0.0 == text }.map { .string($0.1) } ?? value
        default: return value
        }
    }
}
