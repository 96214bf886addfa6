import Events

/// The JSON each channel type sends for a message.
public enum AlertPayload {
    /// The generic webhook document (also the line written to Kafka, JSONL files and standard error), as
    /// docs/schemas/webhook.schema.json describes it. `version` is the document format's version: a change that a
    /// receiver could misread gets a new one.
    public static func webhook(_ message: AlertMessage) -> JSONValue {
        .object([
            ("type", .string("consentinel.alert")),
            ("version", .int(1)),
            ("action", .string(message.action.rawValue)),
            ("id", .string(message.id)),
            ("route", .string(message.route)),
            ("rule", .string(message.sample.rule)),
            ("severity", .string(message.sample.severity)),
            ("summary", .string(message.summary)),
            ("count", .int(Int64(message.count))),
            ("first", .string(message.first.rfc3339)),
            ("last", .string(message.last.rfc3339)),
            ("violation_ids", .array(message.violationIDs.map(JSONValue.string))),
            ("sample", message.sample.json),
        ])
    }

    /// A Slack incoming-webhook message: `text` for notifications, and blocks.
    public static func slack(_ message: AlertMessage) -> JSONValue {
        let v = message.sample
        var fields: [JSONValue] = [field("Rule", v.rule), field("Severity", v.severity), field("Reason", v.reason)]
        // Empty when redaction dropped it.
        if !v.subject.isEmpty { fields.append(field("Subject", v.subject)) }
        if let actor = v.actor { fields.append(field("Actor", actor)) }
        fields.append(field("Time", v.time.rfc3339))
        if message.isGroup {
            fields.append(field("Count", String(message.count)))
            fields.append(field("First – last", "\(message.first.rfc3339) – \(message.last.rfc3339)"))
        }
        return .object([
            ("text", .string(message.summary)),
            (
                "blocks",
                .array([
                    .object([("type", "section"), ("text", .object([("type", "mrkdwn"), ("text", .string(mrkdwn(message)))]))]),
                    .object([("type", "section"), ("fields", .array(fields))]),
                    .object([
                        ("type", "context"),
                        ("elements", .array([.object([("type", "mrkdwn"), ("text", .string("violation `\(v.id)` · route \(message.route)"))])])),
                    ]),
                ])
            ),
        ])
    }

    /// A PagerDuty Events API v2 event: `dedup_key` is the (sample) violation's id, so PagerDuty keeps one incident
    /// per violation and a resolve closes it.
    public static func pagerDuty(_ message: AlertMessage, routingKey: String) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("routing_key", .string(routingKey)),
            ("event_action", .string(message.action.rawValue)),
            ("dedup_key", .string(message.id)),
        ]
        guard message.action == .trigger else { return .object(pairs) }
        let v = message.sample
        pairs.append((
            "payload",
            .object([
                ("summary", .string(String(message.summary.prefix(1024)))),
                ("source", "consentinel"),
                ("severity", .string(pagerDutySeverity(v.severity))),
                ("timestamp", .string(v.time.rfc3339)),
                ("component", .string(v.rule)),
                ("group", .string(message.route)),
                ("class", .string(v.kind)),
                (
                    "custom_details",
                    .object([
                        ("count", .int(Int64(message.count))), ("first", .string(message.first.rfc3339)),
                        ("last", .string(message.last.rfc3339)),
                        ("violation_ids", .array(message.violationIDs.map(JSONValue.string))), ("violation", v.json),
                    ])
                ),
            ])
        ))
        return .object(pairs)
    }

    /// Consentinel's severities on PagerDuty's scale.
    static func pagerDutySeverity(_ severity: String) -> String {
        switch severity {
        case "critical": "critical"
        case "high": "error"
        case "medium": "warning"
        default: "info"
        }
    }

    private static func field(_ name: String, _ value: String) -> JSONValue {
        .object([("type", "mrkdwn"), ("text", .string("*\(name)*\n\(slackEscaped(value))"))])
    }

    private static func mrkdwn(_ message: AlertMessage) -> String {
        let icon = message.sample.severity == "critical" ? ":rotating_light:" : ":warning:"
        return "\(icon) *\(slackEscaped(message.summary))*"
    }

    /// Slack's three control characters in text.
    static func slackEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }
}
