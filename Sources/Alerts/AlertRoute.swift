import Rules

/// A route of `pipeline.yaml`'s `alerts.routes`: which violations it takes and the channels it sends them to.
///
/// A violation goes to a route when its rule names the route in `alert:`, or when the route has at least one
/// condition and the violation meets all of them: severity at or above `minSeverity`, rule in `rules`, at least one
/// of `tags`. A route without conditions takes only the rules that name it.
public struct AlertRoute: Sendable {
    public var name: String
    public var minSeverity: Severity?
    public var rules: Set<String>
    public var tags: Set<String>
    /// Alerts of one group (rule and actor, or subject when there is no actor) within this window go out as one
    /// message; `nil`: every alert on its own.
    public var window: Swift.Duration?
    public var channels: [AlertChannelSettings]

    public init(
        name: String, minSeverity: Severity? = nil, rules: Set<String> = [], tags: Set<String> = [],
        window: Swift.Duration? = nil, channels: [AlertChannelSettings]
    ) {
        self.name = name
        self.minSeverity = minSeverity
        self.rules = rules
        self.tags = tags
        self.window = window
        self.channels = channels
    }

    public var hasConditions: Bool { minSeverity != nil || !rules.isEmpty || !tags.isEmpty }

    public func takes(_ violation: Violation) -> Bool {
        if violation.alert.contains(name) { return true }
        guard hasConditions else { return false }
        if let minSeverity, violation.severity < minSeverity { return false }
        if !rules.isEmpty, !rules.contains(violation.rule) { return false }
        if !tags.isEmpty, !violation.tags.contains(where: tags.contains) { return false }
        return true
    }

    /// `ROUTE/CHANNEL` of each channel: the queue a channel's alerts wait in.
    public var destinations: [String] { channels.map { "\(name)/\($0.name)" } }
}

/// One channel of a route, as configured.
public struct AlertChannelSettings: Sendable {
    public enum Kind: Sendable {
        /// A JSON POST (see `AlertPayload.webhook`), with extra headers (an `Authorization`, say), signed when it has
        /// a signing secret (`WebhookSignature`).
        case webhook(url: Secret, headers: [(String, Secret)], signingSecret: Secret? = nil)
        /// A Slack incoming webhook.
        case slack(url: Secret)
        /// PagerDuty Events API v2: a trigger per message (`dedup_key` the violation id), and a resolve
        /// `autoResolve` after it when set.
        case pagerDuty(routingKey: Secret, url: String, autoResolve: Swift.Duration?)
        /// A Kafka topic (the daemon's producer), one message a line of `AlertPayload.webhook`.
        case kafka(topic: String)
        /// A JSONL file, appended and synced.
        case jsonl(path: String)
        /// Standard error, one JSON line a message.
        case standardError
    }

    public var name: String
    public var kind: Kind
    /// How long one attempt (an HTTP request, a Kafka delivery) may take: at most `maxTimeout`.
    public var timeout: Swift.Duration
    /// How many alerts may wait for this channel (`max_queue`); further ones are set aside (kept in the store,
    /// counted, reported once the channel drains) rather than queued.
    public var maxQueue: Int
    /// What the channel's messages carry of the subject, actor and evidence (`redact`).
    public var redaction: AlertRedaction
    /// The HTTP proxy of a webhook, Slack or PagerDuty channel (`proxy`, or the environment's).
    public var proxy: AlertProxy?

    /// Without `redaction`, the default of the channel's type (`AlertRedaction.defaults`, with no hash key).
    public init(
        name: String, kind: Kind, timeout: Swift.Duration = .seconds(10), maxQueue: Int = Self.defaultMaxQueue,
        redaction: AlertRedaction? = nil, proxy: AlertProxy? = nil
    ) {
        self.name = name
        self.kind = kind
        self.timeout = timeout
        self.maxQueue = maxQueue
        self.proxy = proxy
        self.redaction = .none
        self.redaction = redaction ?? AlertRedaction.defaults(forType: typeName, key: nil)
    }

    /// The longest `timeout` a channel may have: a third of the 30-second delivery lease, so that an attempt started
    /// under the lease ends before another instance can take the channel over.
    public static let maxTimeout = Swift.Duration.seconds(10)
    public static let defaultMaxQueue = 10_000

    public static let pagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

    public var typeName: String {
        switch kind {
        case .webhook: "webhook"
        case .slack: "slack"
        case .pagerDuty: "pagerduty"
        case .kafka: "kafka"
        case .jsonl: "jsonl"
        case .standardError: "stderr"
        }
    }
}

extension Array where Element == AlertRoute {
    /// The destinations (`ROUTE/CHANNEL`) a violation goes to, in route then channel order.
    public func destinations(for violation: Violation) -> [String] {
        filter { $0.takes(violation) }.flatMap(\.destinations)
    }
}
