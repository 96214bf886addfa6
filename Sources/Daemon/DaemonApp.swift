import Alerts
import Foundation
import Hummingbird
import Kafka
import Logging
import Portal
import Rules
import ServiceLifecycle
import Storage
import Synchronization
import UnixSignals

/// Builds the whole daemon from a pipeline folder: state store, outbox publisher, Kafka pipeline and HTTP admin,
/// as services of one ServiceGroup that SIGTERM/SIGINT stop in reverse order.
public enum DaemonApp {
    /// Stops a daemon run in this process the way SIGTERM does: the batch commits, pending outputs are published,
    /// the group is left (cancelling the task stops it at once instead).
    public final class Stopper: Sendable {
        private let group = Mutex<ServiceGroup?>(nil)
        private let requested = Mutex(false)

        public init() {}

        public func stop() async {
            requested.withLock { $0 = true }
            if let group = group.withLock({ $0 }) { await group.triggerGracefulShutdown() }
        }

        func attach(_ serviceGroup: ServiceGroup) async {
            group.withLock { $0 = serviceGroup }
            if requested.withLock({ $0 }) { await serviceGroup.triggerGracefulShutdown() }
        }

        /// Lets go of the group once it has run, and so of its services' clients.
        func detach() {
            group.withLock { $0 = nil }
        }
    }

    public struct Handles: Sendable {
        public let metrics: DaemonMetrics
        public let status: DaemonStatus
    }

    public static func run(
        directory: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "consentinel"), onHTTPBound: @escaping @Sendable (Int) async -> Void = { _ in },
        onPortalBound: @escaping @Sendable (Int) async -> Void = { _ in }, stopper: Stopper? = nil
    ) async throws {
        // A SIGHUP (reload) that comes before the reload handler is in place must not end the process.
        signal(SIGHUP, SIG_IGN)
        let pipeline: Pipeline
        do {
            pipeline = try PipelineLoader().load(directory: directory)
        } catch {
            throw DaemonError(.pipeline, "the pipeline in \(directory) has errors:\n\(error)")
        }
        let configuration = try DaemonConfiguration.load(pipeline: pipeline, environment: environment)
        let store: any StateStore
        do {
            store = DeadlineStateStore(try await StateStores.open(url: configuration.stateURL, logger: logger),
                                       deadline: configuration.storeTimeout)
        } catch {
            throw DaemonError(.input, "cannot open the state store \(redacted(configuration.stateURL)): \(error)")
        }
        let metrics = DaemonMetrics()
        let status = DaemonStatus(stallLimit: configuration.stallLimit)
        let producerConfig = configuration.producerConfiguration(logger: logger)
        let alertsToKafka = configuration.alerts.destinations.contains {
            if case .kafka = $0.channel.kind { true } else { false }
        }
        let needsProducer = configuration.violations.topic != nil || configuration.deadLetters.topic != nil
            || configuration.digests.topic != nil || configuration.portal != nil || alertsToKafka
        let producer: Producer?
        do {
            producer = needsProducer ? try Producer(configuration: producerConfig) : nil
        } catch {
            await store.close()
            // A property librdkafka refuses is a configuration the same files will always fail with.
            throw DaemonError(error.code == .invalidArgument ? .arguments : .input, "the Kafka producer: \(error)")
        }
        let publisher = OutboxPublisher(store: store, producer: producer, metrics: metrics, logger: logger,
                                        lease: configuration.outboxLease)
        let destinations: [AlertDispatcher.Destination]
        do {
            destinations = try AlertDispatcher.destinations(configuration.alerts, producer: producer)
        } catch {
            await store.close()
            throw DaemonError(.arguments, "alerts: \(error)")
        }
        let alerts = AlertDispatcher(
            store: store, destinations: destinations,
            retry: configuration.alerts.retry, metrics: metrics, logger: logger)
        let pipelineService = PipelineService(
            directory: directory, pipeline: pipeline, configuration: configuration, store: store, status: status,
            metrics: metrics, logger: logger, reloadSignals: await UnixSignalsSequence(trapping: .sighup))
        status.watch(publisher.stall)
        status.watch(pipelineService.stall)
        // systemd hears READY=1 once every listener is bound.
        let notifier = SystemdNotifier(environment: environment)
        let unbound = Mutex(configuration.portal == nil ? 1 : 2)
        let listenerBound: @Sendable () -> Void = {
            if unbound.withLock({ $0 -= 1; return $0 == 0 }) { notifier?.notify("READY=1") }
        }
        let admin = AdminServer.make(
            host: configuration.httpHost, port: configuration.httpPort, metrics: metrics, status: status, logger: logger,
            onBound: { port in
                listenerBound()
                await onHTTPBound(port)
            })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: publisher),
            .init(service: alerts),
            .init(service: pipelineService, successTerminationBehavior: .gracefullyShutdownGroup,
                  failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: admin),
        ]
        if let settings = configuration.portal {
            let portal = Portal(configuration: settings, pipeline: pipeline, store: store, logger: logger, metrics: metrics)
            services.append(.init(service: AdminServer.portal(
                host: settings.host ?? configuration.httpHost, port: settings.port, portal: portal, logger: logger,
                onBound: { port in
                    listenerBound()
                    await onPortalBound(port)
                })))
        }
        if let notifier {
            services.append(.init(service: SystemdWatchdog(
                notifier: notifier, interval: SystemdNotifier.watchdogInterval(environment: environment), status: status,
                logger: logger)))
        }
        logger.info("starting", metadata: [
            "pipeline": "\(pipeline.name)", "rules": "\(pipeline.rules.count)", "topics": "\(configuration.source.topics)",
            "version": "\(BuildInfo.version)",
            "state": "\(redacted(configuration.stateURL))", "http": "\(configuration.httpHost):\(configuration.httpPort)",
            "portal": "\(configuration.portal?.description ?? "off")", "alert_routes": "\(configuration.alerts.routes.map(\.name))",
        ])
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        defer { Task { await store.close() } }
        await stopper?.attach(group)
        defer { stopper?.detach() }
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
