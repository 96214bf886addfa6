import Alerts
import Foundation
import Hummingbird
import Kafka
import Logging
import Portal
import Rules
import ServiceLifecycle
import Storage

/// Builds the whole daemon from a pipeline folder: state store, outbox publisher, Kafka pipeline and HTTP admin,
/// as services of one ServiceGroup that SIGTERM/SIGINT stop in reverse order.
public enum DaemonApp {
    public struct Handles: Sendable {
        public let metrics: DaemonMetrics
        public let status: DaemonStatus
    }

    public static func run(
        directory: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "consentinel"), onHTTPBound: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let pipeline: Pipeline
        do {
            pipeline = try PipelineLoader().load(directory: directory)
        } catch {
            throw DaemonError(.pipeline, "the pipeline in \(directory) has errors:\n\(error)")
        }
        let configuration = try DaemonConfiguration.load(pipeline: pipeline, environment: environment)
        let store: any StateStore
        do {
            store = try await StateStores.open(url: configuration.stateURL, logger: logger)
        } catch {
            throw DaemonError(.input, "cannot open the state store \(redacted(configuration.stateURL)): \(error)")
        }
        let metrics = DaemonMetrics()
        let status = DaemonStatus()
        var producerConfig = ProducerConfiguration(
            bootstrapServers: configuration.source.bootstrapServers.split(separator: ",").map(String.init))
        producerConfig.properties = configuration.producerProperties
        let alertsToKafka = configuration.alerts.destinations.contains {
            if case .kafka = $0.channel.kind { true } else { false }
        }
        let needsProducer = configuration.violations.topic != nil || configuration.deadLetters.topic != nil
            || configuration.digests.topic != nil || configuration.portal != nil || alertsToKafka
        let producer = needsProducer ? try Producer(configuration: producerConfig) : nil
        let publisher = OutboxPublisher(store: store, producer: producer, metrics: metrics, logger: logger)
        let alerts = AlertDispatcher(
            store: store, destinations: try AlertDispatcher.destinations(configuration.alerts, producer: producer),
            retry: configuration.alerts.retry, metrics: metrics, logger: logger)
        let pipelineService = PipelineService(
            directory: directory, pipeline: pipeline, configuration: configuration, store: store, status: status,
            metrics: metrics, logger: logger)
        let portal = configuration.portal.map { Portal(configuration: $0, pipeline: pipeline, store: store, logger: logger, metrics: metrics) }
        let admin = AdminServer.make(
            host: configuration.httpHost, port: configuration.httpPort, metrics: metrics, status: status, logger: logger,
            extraRoutes: { router in portal?.routes(router) }, onBound: onHTTPBound)
        logger.info("starting", metadata: [
            "pipeline": "\(pipeline.name)", "rules": "\(pipeline.rules.count)", "topics": "\(configuration.source.topics)",
            "state": "\(redacted(configuration.stateURL))", "http": "\(configuration.httpHost):\(configuration.httpPort)",
            "portal": "\(configuration.portal?.description ?? "off")", "alert_routes": "\(configuration.alerts.routes.map(\.name))",
        ])
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: publisher),
                .init(service: alerts),
                .init(service: pipelineService, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: admin),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        defer { Task { await store.close() } }
        try await group.run()
        await store.close()
        logger.info("stopped")
    }

    /// A URL with its password hidden, for logs.
    static func redacted(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"),
              let colon = url[scheme.upperBound..<at].firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
