import Alerts
import Portal
import Prometheus
import Synchronization

/// Every metric the daemon exports, named in one place (docs/operations.md says what each means).
public final class DaemonMetrics: AlertMetrics, PortalMetrics, Sendable {
    public let registry: PrometheusCollectorRegistry

    public enum Name {
        public static let eventsIn = "consentinel_events_total"
        public static let messagesProcessed = "consentinel_messages_processed_total"
        public static let violations = "consentinel_violations_total"
        public static let deadLetters = "consentinel_dead_letters_total"
        public static let lateEvents = "consentinel_late_events_total"
        public static let duplicates = "consentinel_duplicate_events_total"
        public static let watermark = "consentinel_watermark_timestamp_seconds"
        /// The watermark's name before 0.1.0; exported beside the new one for one release.
        public static let watermarkDeprecated = "consentinel_watermark_seconds"
        public static let consumerLag = "consentinel_consumer_lag_messages"
        public static let buffered = "consentinel_buffered_events"
        public static let openMonths = "consentinel_digest_open_months"
        public static let batchLatency = "consentinel_batch_duration_seconds"
        public static let outboxDepth = "consentinel_outbox_depth"
        public static let published = "consentinel_outputs_published_total"
        public static let assignedPartitions = "consentinel_assigned_partitions"
        public static let paused = "consentinel_consumption_paused"
        public static let pacedPartitions = "consentinel_partitions_paused_ahead"
        public static let pacingPauses = "consentinel_partition_pauses_total"
        public static let reloads = "consentinel_rule_reloads_total"
        public static let monthsClosed = "consentinel_digest_months_closed_total"
        public static let storeOutages = "consentinel_store_outages_total"
        public static let portalRequests = "consentinel_portal_requests_total"
        public static let alertsSent = "consentinel_alerts_sent_total"
        public static let alertMessages = "consentinel_alert_messages_total"
        public static let alertsGrouped = "consentinel_alerts_grouped_total"
        public static let alertRetries = "consentinel_alert_retries_total"
        public static let alertsFailed = "consentinel_alerts_failed_total"
        public static let alertQueueDepth = "consentinel_alert_queue_depth"
        public static let alertsSetAside = "consentinel_alerts_set_aside_total"
        public static let alertsOrphaned = "consentinel_alerts_orphaned"
        public static let stalled = "consentinel_pipeline_stalled"
        public static let buildInfo = "consentinel_build_info"
        public static let processCPU = "process_cpu_seconds_total"
        public static let processResident = "process_resident_memory_bytes"
        public static let processVirtual = "process_virtual_memory_bytes"
        public static let processOpenFiles = "process_open_fds"
        public static let processMaxFiles = "process_max_fds"
        public static let processStart = "process_start_time_seconds"
    }

    private let lagGauges = Mutex<[String: Gauge]>([:])
    private let cpuReported = Mutex<Double>(0)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        registry.gauge(Name.buildInfo, labels: [
            ("version", BuildInfo.version), ("swift", BuildInfo.swift), ("librdkafka", BuildInfo.librdkafka),
        ], help: "Always 1: the release, and the Swift and librdkafka versions of this process").set(to: 1)
        registry.gauge(Name.processStart, help: "When the process started, seconds since the Unix epoch")
            .set(to: ProcessStats.startTime)
    }

    /// A batch of messages was processed and its effects committed to the state store.
    func batchCommitted(messages: Int) {
        registry.counter(Name.messagesProcessed, help: "Messages processed and committed to the state store (every message: events, duplicates and dead letters)")
            .increment(by: Int64(messages))
    }

    public func eventIn(topic: String, type: String, _ n: Int = 1) {
        registry.counter(Name.eventsIn, labels: [("topic", topic), ("type", type)],
                             help: "Valid events read, by topic and event type").increment(by: Int64(n))
    }

    public func violation(rule: String, severity: String, _ n: Int = 1) {
        registry.counter(Name.violations, labels: [("rule", rule), ("severity", severity)],
                             help: "Violations found, by rule and severity").increment(by: Int64(n))
    }

    public func deadLetter(reason: String) {
        registry.counter(Name.deadLetters, labels: [("reason", reason)],
                             help: "Invalid messages sent to the dead-letter outputs, by reason").increment()
    }

    public func late(_ n: Int = 1) {
        registry.counter(Name.lateEvents, help: "Events that arrived after the watermark had passed them")
            .increment(by: Int64(n))
    }

    public func duplicate(_ n: Int = 1) {
        registry.counter(Name.duplicates, help: "Events ignored because their id was already seen")
            .increment(by: Int64(n))
    }

    public func watermark(_ unixSeconds: Double) {
        registry.gauge(Name.watermark, help: "The event-time watermark, in seconds since the Unix epoch")
            .set(to: unixSeconds)
        registry.gauge(Name.watermarkDeprecated, help: "Deprecated: consentinel_watermark_timestamp_seconds (removed after 0.1)")
            .set(to: unixSeconds)
    }

    /// Events waiting in the owned partitions' event-time buffers, and the most open digest months of one of them.
    public func held(events: Int, openMonths: Int) {
        registry.gauge(Name.buffered, help: "Events waiting in the event-time buffers for the watermark").set(to: Double(events))
        registry.gauge(Name.openMonths, help: "The most digest months open in one owned partition").set(to: Double(openMonths))
    }

    public func lag(topic: String, partition: Int32, messages: Int64) {
        let gauge = registry.gauge(Name.consumerLag, labels: [("topic", topic), ("partition", String(partition))],
                                   help: "Messages behind the partition's high watermark")
        gauge.set(to: Double(messages))
        lagGauges.withLock { $0["\(topic)/\(partition)"] = gauge }
    }

    /// Drops the lag series of partitions this instance no longer owns (another instance exports them now).
    public func forgetLag(keeping owned: Set<String>) {
        let stale = lagGauges.withLock { gauges in
            let gone = gauges.filter { !owned.contains($0.key) }
            for key in gone.keys { gauges.removeValue(forKey: key) }
            return Array(gone.values)
        }
        for gauge in stale { registry.unregisterGauge(gauge) }
    }

    /// 1 while `service` has been in one stage of its loop past its stall threshold.
    public func stalled(service: String, _ isStalled: Bool) {
        registry.gauge(Name.stalled, labels: [("service", service)],
                       help: "1 while a service has been stuck in one stage past its stall threshold, by service")
            .set(to: isStalled ? 1 : 0)
    }

    /// The process figures, read when scraped.
    func sampleProcess() {
        let cpu = ProcessStats.cpuSeconds()
        let delta = cpuReported.withLock { reported -> Double in
            defer { reported = max(reported, cpu) }
            return max(0, cpu - reported)
        }
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: Name.processCPU, unitName: "", helpText: "User and system CPU time, seconds"))
            .increment(by: delta)
        registry.gauge(Name.processResident, help: "Resident memory, bytes").set(to: Double(ProcessStats.residentBytes()))
        registry.gauge(Name.processVirtual, help: "Virtual memory, bytes").set(to: Double(ProcessStats.virtualBytes()))
        registry.gauge(Name.processOpenFiles, help: "Open file descriptors").set(to: Double(ProcessStats.openFileDescriptors()))
        registry.gauge(Name.processMaxFiles, help: "The limit on open file descriptors")
            .set(to: Double(ProcessStats.maxFileDescriptors()))
    }

    public func batch(_ duration: Swift.Duration) {
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: Name.batchLatency, unitName: "", helpText: "Time to process and commit one batch"),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]).record(duration)
    }

    public func outboxDepth(_ n: Int) {
        registry.gauge(Name.outboxDepth, help: "Outputs stored but not yet published").set(to: Double(n))
    }

    public func published(kind: String, _ n: Int = 1) {
        registry.counter(Name.published, labels: [("kind", kind)], help: "Outputs published, by kind")
            .increment(by: Int64(n))
    }

    public func assigned(_ n: Int) {
        registry.gauge(Name.assignedPartitions, help: "Partitions assigned to this instance").set(to: Double(n))
    }

    public func paused(_ isPaused: Bool) {
        registry.gauge(Name.paused, help: "1 while consumption is paused for backpressure").set(to: isPaused ? 1 : 0)
    }

    /// Partitions paused for being ahead in event time (`sources.kafka.max_buffered_events`), and how many pauses so far.
    func paced(paused: Int, newlyPaused: Int) {
        registry.gauge(Name.pacedPartitions, help: "Partitions paused while their event-time buffers drain").set(to: Double(paused))
        registry.counter(Name.pacingPauses, help: "Partitions paused for being ahead of the watermark")
            .increment(by: Int64(newlyPaused))
    }

    public func reload(outcome: String) {
        registry.counter(Name.reloads, labels: [("outcome", outcome)], help: "Rule reloads on SIGHUP, by outcome")
            .increment()
    }

    public func storeOutage() {
        registry.counter(Name.storeOutages, help: "Times the pipeline stopped consuming because the state store failed a write or read")
            .increment()
    }

    public func monthClosed() {
        registry.counter(Name.monthsClosed, help: "Months whose organisation digest this instance completed").increment()
    }

    public func portalRequest(outcome: String) {
        registry.counter(Name.portalRequests, labels: [("outcome", outcome)],
                             help: "Customer portal requests, by outcome (page, opt_out, refused, error)").increment()
    }

    /// A message delivered to a channel, holding `alerts` violations.
    public func alertDelivered(route: String, channel: String, alerts: Int) {
        let labels = [("route", route), ("channel", channel)]
        registry.counter(Name.alertsSent, labels: labels, help: "Violations delivered as alerts, by route and channel")
            .increment(by: Int64(alerts))
        registry.counter(Name.alertMessages, labels: labels, help: "Alert messages delivered, by route and channel")
            .increment()
        if alerts > 1 {
            registry.counter(
                Name.alertsGrouped, labels: labels,
                help: "Violations delivered inside a grouped message (an aggregation window), by route and channel")
                .increment(by: Int64(alerts))
        }
    }

    /// A failed attempt that will be retried.
    public func alertRetried(route: String, channel: String) {
        registry.counter(Name.alertRetries, labels: [("route", route), ("channel", channel)],
                             help: "Alert deliveries that failed and will be retried (timeouts, 5xx, 429)").increment()
    }

    /// Alerts the channel refused for good (kept in the store, logged, never retried).
    public func alertFailed(route: String, channel: String, alerts: Int) {
        registry.counter(Name.alertsFailed, labels: [("route", route), ("channel", channel)],
                             help: "Alerts a channel refused for good (a 4xx other than 408 and 429)")
            .increment(by: Int64(alerts))
    }

    public func alertQueue(route: String, channel: String, depth: Int) {
        registry.gauge(Name.alertQueueDepth, labels: [("route", route), ("channel", channel)],
                           help: "Alerts queued and not yet delivered, by route and channel").set(to: Double(depth))
    }

    /// Alerts set aside because their channel's queue was full (`max_queue`): kept in the store, not delivered.
    public func alertsSetAside(route: String, channel: String, alerts: Int) {
        registry.counter(Name.alertsSetAside, labels: [("route", route), ("channel", channel)],
                             help: "Alerts set aside because their channel's queue was full (max_queue), by route and channel")
            .increment(by: Int64(alerts))
    }

    /// Alerts waiting, at start, for a destination (`ROUTE/CHANNEL`) that is no longer configured.
    public func alertsOrphaned(destination: String, count: Int) {
        registry.gauge(Name.alertsOrphaned, labels: [("destination", destination)],
                           help: "Alerts queued, at start, for a route or channel no longer configured (never delivered)")
            .set(to: Double(count))
    }

    public var text: String {
        sampleProcess()
        return registry.emitToString()
    }
}

extension PrometheusCollectorRegistry {
    /// The counter with this full Prometheus name (and labels), made once and then reused.
    func counter(_ name: String, labels: [(String, String)] = [], help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// The gauge with this full Prometheus name (and labels), made once and then reused.
    func gauge(_ name: String, labels: [(String, String)] = [], help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
