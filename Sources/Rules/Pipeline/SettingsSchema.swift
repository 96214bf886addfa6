import Events

/// What `pipeline.yaml` may hold: each section's module declares its part next to the code that reads it, and
/// `SettingsChecker` holds a file to the whole.
public indirect enum SettingsSchema: Sendable {
    /// A scalar, checked as `TextKind` says.
    case text(TextKind)
    /// A YAML list of items, or (for `commaText`) also one text of comma-separated items.
    case list(SettingsSchema, commaText: Bool = false)
    /// A mapping with these keys and no others.
    case map([SettingsField])
    /// A mapping with any keys, each value of this schema (librdkafka properties, HTTP headers).
    case dictionary(SettingsSchema)
    /// A mapping whose `key` names its variant (a channel's `type`): the common fields and the variant's.
    case tagged(key: String, common: [SettingsField], variants: [String: [SettingsField]])
    /// Either form (a taxonomy given by name, or as a mapping).
    case either(SettingsSchema, SettingsSchema)

    public enum TextKind: Sendable {
        case any
        case duration
        /// A duration above zero.
        case positiveDuration
        case port
        case positiveInteger
        case httpURL
        case oneOf([String])
        /// The id of a rule of the pipeline.
        case ruleID
    }
}

/// One key of a mapping.
public struct SettingsField: Sendable {
    public var name: String
    public var schema: SettingsSchema
    public var required: Bool

    public init(_ name: String, _ schema: SettingsSchema, required: Bool = false) {
        self.name = name
        self.schema = schema
        self.required = required
    }

    /// `NAME` and `NAME_file` (the value read from a file), one of which may be required.
    public static func secret(_ name: String) -> [SettingsField] {
        [SettingsField(name, .text(.any)), SettingsField(name + "_file", .text(.any))]
    }
}

extension SettingsSchema {
    /// The parts of `pipeline.yaml` the rule engine itself reads (name, taxonomy, lateness, de-duplication, the
    /// language of violations' messages).
    public static let engineFields: [SettingsField] = [
        SettingsField("name", .text(.any)),
        SettingsField("lateness", .text(.duration)),
        SettingsField("dedup_window", .text(.duration)),
        SettingsField("language", .text(.oneOf(MessageLanguage.allCases.map(\.rawValue)))),
        SettingsField(
            "taxonomy",
            .either(
                .text(.any),
                .map([
                    SettingsField("base", .text(.any)),
                    SettingsField("categories", .list(taxonomyEntry)),
                    SettingsField("uses", .list(taxonomyEntry)),
                ]))),
    ]

    private static let taxonomyEntry = SettingsSchema.either(
        .text(.any),
        .map([
            SettingsField("key", .text(.any), required: true), SettingsField("name", .text(.any)),
            SettingsField("description", .text(.any)),
        ]))
}
