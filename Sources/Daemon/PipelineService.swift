import Foundation
import Alerts
import Kafka
import Logging
import Rules
import ServiceLifecycle
import Storage
import Synchronization
import UnixSignals

/// Consumes the source topics and drives the stream processor; reloads the rules on SIGHUP (a bad pipeline keeps
/// the old rules and says why); pauses consumption while the outbox is too deep; on SIGTERM/SIGINT stops reading,
/// lets the last batch commit and leaves the group.
final class PipelineService: Service {
    let directory: String
    let configuration: DaemonConfiguration
    let pipeline: Pipeline
    let status: DaemonStatus
    let metrics: DaemonMetrics
    let logger: Logger
    let store: any StateStore
    private let pendingPipeline = Mutex<Pipeline?>(nil)
    let stall = StallWatch(service: "pipeline")

    init(directory: String, pipeline: Pipeline, configuration: DaemonConfiguration, store: any StateStore,
         status: DaemonStatus, metrics: DaemonMetrics, logger: Logger) {
        self.directory = directory
        self.configuration = configuration
        self.store = store
        self.status = status
        self.metrics = metrics
        self.logger = logger
        self.pipeline = pipeline
    }

    func run() async throws {
        let consumerConfig = configuration.consumerConfiguration(logger: logger)
        let consumer = try Consumer(configuration: consumerConfig)
        let processor = StreamProcessor(pipeline: pipeline, configuration: configuration, store: store, metrics: metrics,
                                        logger: logger, stall: stall)
        var adminConfig = AdminConfiguration(bootstrapServers: consumerConfig.bootstrapServers)
        adminConfig.properties = configuration.source.connectionProperties
        let admin = try Admin(configuration: adminConfig)
        let reloads = Task { await self.watchReloads() }
        let watch = Task { [stall, logger] in await stall.watch(logger: logger) }
        defer { reloads.cancel(); watch.cancel() }
        try await withGracefulShutdownHandler {
            try await consume(consumer, processor, admin)
        } onGracefulShutdown: {
            self.status.stopping()
            Task { await consumer.shutdown() }
        }
        await consumer.shutdown()
        logger.info("pipeline stopped")
    }

    private func consume(_ consumer: Consumer, _ processor: StreamProcessor, _ admin: Admin) async throws {
        var assigned: Set<TopicPartition> = []
        var lagMeasured = ContinuousClock.now
        stall.enter("waiting for messages", idle: true)
        for try await event in consumer.events {
            defer { stall.enter("waiting for messages", idle: true) }
            if let next = pendingPipeline.withLock({ p -> Pipeline? in defer { p = nil }; return p }) {
                try await stall.during("reloading the rules") { try await processor.reload(next) }
                metrics.reload(outcome: "applied")
                logger.info("rules reloaded", metadata: ["rules": "\(next.rules.count)"])
            }
            switch event {
            case .assigned(let change):
                status.loadingStarted()
                await stall.during("reading the source topics' metadata") { await learnPartitionCounts(admin, processor) }
                let seeks = try await stall.during("loading assigned partitions") { try await processor.assign(change.partitions) }
                if !seeks.isEmpty { try await stall.during("seeking") { try await consumer.seek(seeks) } }
                assigned.formUnion(change.partitions)
                status.loaded(assignedPartitions: assigned.count)
                try await processor.completeOrgDigests()
            case .revoked(let change):
                processor.revoke(change.partitions)
                assigned.subtract(change.partitions)
                status.assigned(assigned.count)
            case .idle:
                try await processor.tick()
                // Measured while nothing flows too, so a caught-up or quiet daemon does not export a stale lag.
                if ContinuousClock.now - lagMeasured > .seconds(5) {
                    lagMeasured = .now
                    await stall.during("measuring consumer lag") { await measureLag(admin, processor) }
                }
            case .messages(let batch):
                try await processor.process(batch)
                stall.enter("storing consumed offsets")
                try consumer.markProcessed(batch)
                try await stall.during("checking the outbox depth") { try await applyBackpressure(consumer, Array(assigned)) }
                if ContinuousClock.now - lagMeasured > .seconds(5) {
                    lagMeasured = .now
                    await stall.during("measuring consumer lag") { await measureLag(admin, processor) }
                }
            }
        }
    }

    /// Holds consumption while more outputs wait than `max_pending`, until half of them are published.
    private func applyBackpressure(_ consumer: Consumer, _ partitions: [TopicPartition]) async throws {
        guard try await pendingOutputs() > configuration.maxOutboxDepth, !partitions.isEmpty else { return }
        stall.enter("pausing consumption")
        try await consumer.pause(partitions)
        metrics.paused(true)
        logger.warning("outputs are behind: consumption paused", metadata: ["limit": "\(configuration.maxOutboxDepth)"])
        stall.enter("paused until outputs are published", idle: true)
        while try await pendingOutputs() > configuration.maxOutboxDepth / 2, !Task.isShuttingDownGracefully {
            try await Task.sleep(for: .milliseconds(200))
        }
        stall.enter("resuming consumption")
        try await consumer.resume(partitions)
        metrics.paused(false)
        logger.info("consumption resumed")
    }

    /// Partitions per source topic, for closing a month's organisation digest; kept as they were when unreachable.
    private func learnPartitionCounts(_ admin: Admin, _ processor: StreamProcessor) async {
        guard let metadata = try? await admin.metadata(topics: configuration.source.topics, timeout: .seconds(5)) else { return }
        for topic in metadata.topics where topic.error == nil && !topic.partitions.isEmpty {
            processor.sourcePartitionCounts[topic.name] = topic.partitions.count
        }
    }

    /// Outputs stored but not yet published. Alerts do not count: each channel has its own bound (`max_queue`), so a
    /// channel that is down never holds the engine back.
    private func pendingOutputs() async throws -> Int {
        try await store.outboxDepth()
    }

    /// Messages behind each partition's high watermark, from the offsets committed to the store.
    private func measureLag(_ admin: Admin, _ processor: StreamProcessor) async {
        for (tp, runtime) in processor.partitions {
            guard let marks = try? await admin.watermarks(topic: tp.topic, partition: tp.partition, timeout: .seconds(2)) else { continue }
            metrics.lag(topic: tp.topic, partition: tp.partition, messages: Swift.max(0, marks.high - (runtime.storedOffset ?? marks.low)))
        }
    }

    /// The pipeline a SIGHUP reloads, checked as at start: a rule naming an alert route that `alerts.routes` does not
    /// define is an error (the routes themselves are read at start only).
    static func loadForReload(directory: String) throws(RuleErrors) -> Pipeline {
        let pipeline = try PipelineLoader().load(directory: directory)
        let unknown = AlertSettings.unknownRouteErrors(in: pipeline)
        guard unknown.isEmpty else { throw RuleErrors(unknown) }
        return pipeline
    }

    private func watchReloads() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            do {
                let pipeline = try Self.loadForReload(directory: directory)
                pendingPipeline.withLock { $0 = pipeline }
                logger.info("SIGHUP: new rules loaded, applied with the next batch", metadata: ["rules": "\(pipeline.rules.count)"])
            } catch {
                metrics.reload(outcome: "rejected")
                logger.error("SIGHUP: the pipeline has errors; keeping the current rules",
                             metadata: ["errors": .array(error.errors.map { .string($0.description) })])
            }
        }
    }
}
