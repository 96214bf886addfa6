import Rules

extension AlertSettings {
    /// The `alerts` section of `pipeline.yaml`, as `AlertSettings.load` reads it.
    public static let schema = SettingsField(
        "alerts",
        .map([
            SettingsField("retry_base", .text(.positiveDuration)),
            SettingsField("retry_max", .text(.positiveDuration)),
        ] + SettingsField.secret("hash_key") + [
            SettingsField("routes", .list(routeSchema)),
        ]))

    static let redactSchema = SettingsSchema.map([
        SettingsField("subject", .text(.oneOf(["keep", "hash", "drop"]))),
        SettingsField("actor", .text(.oneOf(["keep", "hash", "drop"]))),
        SettingsField("evidence", .text(.oneOf(["keep", "drop"]))),
    ])

    static let routeSchema = SettingsSchema.map([
        SettingsField("name", .text(.any), required: true),
        SettingsField("min_severity", .text(.oneOf(["low", "medium", "high", "critical"]))),
        SettingsField("rules", .list(.text(.ruleID), commaText: true)),
        SettingsField("tags", .list(.text(.any), commaText: true)),
        SettingsField("window", .text(.positiveDuration)),
        SettingsField("redact", redactSchema),
        SettingsField("channels", .list(channelSchema), required: true),
    ])

    /// `none`, or an `http://` proxy URL.
    static let proxy = SettingsField("proxy", .text(.any))

    static let channelSchema = SettingsSchema.tagged(
        key: "type",
        common: [
            SettingsField("type", .text(.any), required: true), SettingsField("name", .text(.any)),
            SettingsField("timeout", .text(.positiveDuration)), SettingsField("max_queue", .text(.positiveInteger)),
            SettingsField("redact", redactSchema),
        ],
        variants: [
            "webhook": SettingsField.secret("url") + SettingsField.secret("signing_secret") + [
                SettingsField("headers", .dictionary(.text(.any))), proxy,
            ],
            "slack": SettingsField.secret("url") + [proxy],
            "pagerduty": SettingsField.secret("routing_key") + [
                SettingsField("url", .text(.httpURL)), SettingsField("auto_resolve", .text(.positiveDuration)), proxy,
            ],
            "kafka": [SettingsField("topic", .text(.any), required: true)],
            "jsonl": [SettingsField("file", .text(.any), required: true)],
            "file": [SettingsField("file", .text(.any), required: true)],
            "stderr": [],
        ])
}
