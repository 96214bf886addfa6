import Alerts
import Portal
import Rules

extension DaemonConfiguration {
    /// The whole of `pipeline.yaml`: the engine's keys and each section `run` reads (`config check` holds a file
    /// to it).
    public static let schema = SettingsSchema.map(SettingsSchema.engineFields + [
        SettingsField(
            "organisation",
            .map([
                SettingsField("name", .text(.any)), SettingsField("contact_email", .text(.any)),
                SettingsField("privacy_url", .text(.httpURL)), SettingsField("supervisory_authority", .text(.any)),
                SettingsField("supervisory_authority_url", .text(.httpURL)),
            ])),
        SettingsField(
            "sources",
            .map([
                SettingsField(
                    "kafka",
                    .map([
                        SettingsField("bootstrap_servers", .text(.any), required: true),
                        SettingsField("group", .text(.any)),
                        SettingsField("topics", .list(.text(.any), commaText: true), required: true),
                        SettingsField("idle_timeout", .text(.duration)),
                        SettingsField("max_buffered_events", .text(.positiveInteger)),
                        SettingsField("session_timeout", .text(.positiveDuration)),
                        SettingsField("instance_id", .text(.any)),
                        SettingsField("properties", .dictionary(.text(.any))),
                    ])),
            ])),
        SettingsField("state", .map([
            SettingsField("url", .text(.any)), SettingsField("timeout", .text(.positiveDuration)),
            SettingsField("checkpoint_interval", .text(.positiveDuration)),
        ])),
        SettingsField(
            "sinks",
            .map([
                SettingsField("violations", sink), SettingsField("dead_letters", sink), SettingsField("digests", sink),
                SettingsField("max_pending", .text(.positiveInteger)),
                SettingsField("lease", .text(.positiveDuration)),
                SettingsField("properties", .dictionary(.text(.any))),
            ])),
        SettingsField(
            "http",
            .map([
                SettingsField("host", .text(.any)), SettingsField("port", .text(.port)),
                SettingsField("stall_limit", .text(.positiveDuration)),
            ])),
        PortalConfiguration.schema,
        AlertSettings.schema,
    ])

    private static let sink = SettingsSchema.map([SettingsField("topic", .text(.any)), SettingsField("file", .text(.any))])
}
