import Foundation
import Alerts
import Digests
import Events
import Kafka
import Logging
import Portal
import Processing
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
    let stall: StallWatch
    /// The partitions this instance owns and the next offset stored for each, for the probe's lag figures.
    private let owned = Mutex<[TopicPartition: Int64?]>([:])

    /// SIGHUPs, trapped before the daemon says "starting" so that none is lost or ends the process.
    let reloadSignals: UnixSignalsSequence

    init(directory: String, pipeline: Pipeline, configuration: DaemonConfiguration, store: any StateStore,
         status: DaemonStatus, metrics: DaemonMetrics, logger: Logger, reloadSignals: UnixSignalsSequence) {
        self.reloadSignals = reloadSignals
        self.directory = directory
        self.configuration = configuration
        self.store = store
        self.status = status
        self.metrics = metrics
        self.logger = logger
        self.pipeline = pipeline
        stall = StallWatch(service: "pipeline", tracer: logger)
    }

    func run() async throws {
        let consumerConfig = configuration.consumerConfiguration(logger: logger)
        var adminConfig = AdminConfiguration(bootstrapServers: consumerConfig.bootstrapServers)
        adminConfig.properties = configuration.source.connectionProperties
        adminConfig.logHandler = DaemonConfiguration.kafkaLogHandler(logger)
        let admin = try Admin(configuration: adminConfig)
        let reloads = Task { await self.watchReloads() }
        let watch = Task { [stall, logger, metrics] in await stall.watch(logger: logger, metrics: metrics) }
        let probe = Task { await self.probe(admin) }
        await recordNotice(pipeline)
        let outcome: Result<Void, any Error>
        do {
            try await consumeUntilStopped(consumerConfig, admin)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        reloads.cancel()
        watch.cancel()
        probe.cancel()
        // No Kafka client of this service outlives it: the probe's admin client is destroyed before `run` returns
        // (the consumer's with `consumeUntilStopped`), so none is still connecting when whoever ran the daemon goes on.
        await probe.value
        try outcome.get()
        logger.info("pipeline stopped")
    }

    private func consumeUntilStopped(_ consumerConfig: ConsumerConfiguration, _ admin: Admin) async throws {
        // The rules in use: the first, or the last reload applied before a store outage.
        var rules = pipeline
        while true {
            let consumer = try Consumer(configuration: consumerConfig)
            let processor = StreamProcessor(pipeline: rules, configuration: configuration, store: store, metrics: metrics,
                                            logger: logger, stall: stall)
            do {
                try await withGracefulShutdownHandler {
                    try await consume(consumer, processor, admin)
                } onGracefulShutdown: {
                    self.status.stopping()
                    consumer.requestShutdown()
                }
                await consumer.shutdown()
                break
            } catch let error as StorageError where [.connection, .io].contains(error.code) && !Task.isShuttingDownGracefully {
                // The store cannot be written (a server restarting, a full disk): what this instance holds in memory
                // past its last commit is dropped; consumption starts again from the offsets stored with the state.
                status.storeWrites(failing: true)
                metrics.storeOutage()
                logger.error("the state store failed: consumption stops until it takes writes again", metadata: ["error": "\(error)"])
                await leave(consumer)
                logger.info("left the consumer group; waiting for the state store")
                rules = processor.pipeline
                owned.withLock { $0 = [:] }
                status.assigned(0)
                guard await waitUntilStoreWrites() else { break }
                status.storeWrites(failing: false)
                logger.notice("the state store takes writes again: consuming from the offsets stored with the state")
            } catch {
                await consumer.shutdown()
                throw error
            }
        }
    }

    /// Leaves the group: the consumer's last revocation is taken without processing (nothing is marked processed
    /// past the last commit, so only committed offsets are committed).
    private func leave(_ consumer: Consumer) async {
        let drain = Task { do { for try await _ in consumer.events {} } catch {} }
        await consumer.shutdown()
        drain.cancel()
    }

    /// Writes a probe row until the store takes it, backing off from 0.5 s to 5 s; false when the daemon is stopping.
    private func waitUntilStoreWrites() async -> Bool {
        var delay = Swift.Duration.milliseconds(500)
        stall.enter("waiting for the state store to take writes", idle: true)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: delay)
            do {
                let probe = StateRow(namespace: "consentinel.store-probe", key: pipeline.name, value: Array(Date().description.utf8))
                try await store.commit(BatchCommit(global: [probe]), pipeline: pipeline.name)
                return true
            } catch {
                logger.debug("the state store does not take writes yet", metadata: ["error": "\(error)"])
                delay = min(delay * 2, .seconds(5))
            }
        }
        return false
    }

    private func consume(_ consumer: Consumer, _ processor: StreamProcessor, _ admin: Admin) async throws {
        var assigned: Set<TopicPartition> = []
        stall.enter("waiting for messages", idle: true)
        for try await event in consumer.events {
            defer { stall.enter("waiting for messages", idle: true) }
            if let next = pendingPipeline.withLock({ p -> Pipeline? in defer { p = nil }; return p }) {
                if !processor.canSetUp(next) {
                    await stall.during("reading the source topics' metadata") { await learnPartitionCounts(admin, processor) }
                }
                if processor.canSetUp(next) {
                    try await stall.during("reloading the rules") { try await processor.reload(next) }
                    metrics.reload(outcome: "applied")
                    logger.info("rules reloaded", metadata: ["rules": "\(next.rules.count)"])
                    await recordNotice(next)
                } else {
                    // Before the cluster has answered (a SIGHUP at start): kept for the next event, unless a newer
                    // reload replaced it meanwhile.
                    pendingPipeline.withLock { if $0 == nil { $0 = next } }
                }
            }
            switch event {
            case .assigned(let change):
                status.loadingStarted()
                await stall.during("reading the source topics' metadata") { await learnPartitionCounts(admin, processor) }
                let seeks = try await stall.during("loading assigned partitions") { try await processor.assign(change.partitions) }
                if !seeks.isEmpty { try await stall.during("seeking") { try await consumer.seek(seeks) } }
                assigned.formUnion(change.partitions)
                status.loaded(assignedPartitions: assigned.count)
                noteOffsets(processor)
                try await processor.completeOrgDigests()
            case .revoked(let change):
                stall.enter("revoking partitions")
                // librdkafka keeps a partition paused through its revocation: whoever gets it next must read it.
                let paced = change.partitions.filter { processor.pacing.paused.contains($0) }
                if !paced.isEmpty { try await consumer.resume(paced) }
                try await checkpoint(processor, only: Set(change.partitions), before: "revoking partitions")
                processor.revoke(change.partitions)
                assigned.subtract(change.partitions)
                status.assigned(assigned.count)
                noteOffsets(processor)
            case .idle:
                try await processor.tick()
                try await pace(consumer, processor)
            case .messages(let batch):
                try await processor.process(batch)
                stall.enter("storing consumed offsets")
                try consumer.markProcessed(batch)
                noteOffsets(processor)
                try await pace(consumer, processor)
                try await stall.during("checking the outbox depth") { try await applyBackpressure(consumer, processor, Array(assigned)) }
            }
        }
        // Stopping: a checkpoint that fails only means more to read again at the next start.
        do {
            try await checkpoint(processor, before: "stopping")
        } catch {
            logger.warning("no checkpoint before stopping: the next owner reads the partitions from the last one", metadata: ["error": "\(error)"])
        }
    }

    /// Writes what the partitions (all, or `only`) processed since their last checkpoint, so that their next owner need
    /// not read it again. Fenced (another instance has claimed one of them already): that owner reads it again, as after
    /// a crash. A cancelled task writes nothing more (a transaction it began could be left open in the store).
    private func checkpoint(_ processor: StreamProcessor, only: Set<TopicPartition>? = nil, before what: String) async throws {
        guard !Task.isCancelled else { return }
        do {
            try await stall.during("writing a checkpoint before \(what)") { try await processor.checkpoint(only: only) }
            noteOffsets(processor)
        } catch let error as StorageError where error.code == .fenced {
            logger.warning("checkpoint fenced: another instance owns a partition already", metadata: ["before": "\(what)", "error": "\(error)"])
        }
    }

    /// Holds consumption while more outputs wait than `max_pending`, until half of them are published.
    private func applyBackpressure(_ consumer: Consumer, _ processor: StreamProcessor, _ partitions: [TopicPartition]) async throws {
        guard try await pendingOutputs() > configuration.maxOutboxDepth, !partitions.isEmpty else { return }
        // No batch comes while paused, and a pause may last: what was processed is written first.
        try await processor.checkpoint()
        stall.enter("pausing consumption")
        try await consumer.pause(partitions)
        metrics.paused(true)
        logger.warning("outputs are behind: consumption paused", metadata: ["limit": "\(configuration.maxOutboxDepth)"])
        stall.enter("paused until outputs are published", idle: true)
        while try await pendingOutputs() > configuration.maxOutboxDepth / 2, !Task.isShuttingDownGracefully {
            try await Task.sleep(for: .milliseconds(200))
        }
        stall.enter("resuming consumption")
        let resumed = partitions.filter { !processor.pacing.paused.contains($0) }
        try await consumer.resume(resumed)
        processor.noteResumed(resumed)
        metrics.paused(false)
        logger.info("consumption resumed")
    }

    /// Pauses the partitions too far ahead in event time and resumes those whose buffers have drained
    /// (`BufferPacing`); while consumption is held for backpressure, that resumption waits for its end.
    private func pace(_ consumer: Consumer, _ processor: StreamProcessor) async throws {
        let decision = processor.pace()
        guard !decision.isEmpty else { return }
        stall.enter("pausing and resuming partitions ahead in event time")
        if !decision.pause.isEmpty { try await consumer.pause(decision.pause) }
        if !decision.resume.isEmpty { try await consumer.resume(decision.resume) }
        logger.debug("partitions paused ahead in event time", metadata: [
            "paused": "\(decision.pause.map(\.description))", "resumed": "\(decision.resume.map(\.description))",
            "held": "\(processor.pacing.paused.count)",
        ])
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

    /// The notice of the rules now in force, for the months' pages (`NoticeHistory`); a store that fails here only
    /// costs the page its "what changed" section, so it is logged and the pipeline goes on.
    func recordNotice(_ pipeline: Pipeline) async {
        do {
            let now = Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
            try await NoticeHistory(store: store, pipeline: pipeline.name).record(PolicyFacts(pipeline: pipeline), at: now)
        } catch {
            logger.warning("cannot record the privacy notice of the rules in force", metadata: ["error": "\(error)"])
        }
    }

    private func noteOffsets(_ processor: StreamProcessor) {
        let offsets = processor.partitions.mapValues { $0.consumedOffset ?? $0.storedOffset }
        owned.withLock { $0 = offsets }
    }

    /// Every 5 s, on its own timer whether messages flow or not: whether the state store and the Kafka cluster
    /// answer (readiness), and the lag of each owned partition, from its high watermark and the offset after its last
    /// processed message; the series of partitions no longer owned are dropped.
    private func probe(_ admin: Admin) async {
        while !Task.isCancelled {
            // A store that hangs rather than fails is unreachable too.
            let store = self.store
            let depth = await withTaskGroup(of: Result<Int, any Error>?.self) { group in
                group.addTask { do { return .success(try await store.outboxDepth()) } catch { return .failure(error) } }
                group.addTask { try? await Task.sleep(for: .seconds(5)); return nil }
                defer { group.cancelAll() }
                return await group.next() ?? nil
            }
            switch depth {
            case .success(let n)?:
                metrics.outboxDepth(n)
                status.probed(store: true)
            case .failure(let error)?:
                status.probed(store: false)
                logger.warning("the state store does not answer", metadata: ["error": "\(error)"])
            case nil:
                status.probed(store: false)
                logger.warning("the state store does not answer", metadata: ["error": "no answer within 5 s"])
            }
            guard !Task.isCancelled else { break }
            let reachable = (try? await admin.metadata(topics: configuration.source.topics, timeout: .seconds(5))) != nil
            status.probed(kafka: reachable)
            let partitions = owned.withLock { $0 }
            for (tp, stored) in partitions where !Task.isCancelled {
                guard let marks = try? await admin.watermarks(topic: tp.topic, partition: tp.partition, timeout: .seconds(2))
                else { continue }
                metrics.lag(topic: tp.topic, partition: tp.partition, messages: Swift.max(0, marks.high - (stored ?? marks.low)))
            }
            metrics.forgetLag(keeping: Set(owned.withLock { $0.keys.map { "\($0.topic)/\($0.partition)" } }))
            try? await Task.sleep(for: .seconds(5))
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
        for await _ in reloadSignals {
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
