public import AgoraMQTT
internal import AgoraCore
internal import Logging
internal import ServiceLifecycle

/// `agora serve`: the gateway's long-running services, in dependency order — the ingester
/// first, then the broker connection that feeds it. A `ServiceGroup` starts them and, on
/// SIGTERM or SIGINT, shuts them down in reverse: the broker connection stops taking
/// messages, then the ingester stores what is queued, then the store seals a checkpoint.
public enum GatewayServer {
    public static func run(_ gateway: Gateway, clientID: String = "agora-gateway") async throws {
        guard let endpoint = try BrokerSetup.endpoint(for: gateway) else {
            throw GatewayError.file(gateway.configuration.stateDirectory, "no broker endpoint recorded; run agora broker-config first (or set the mqtt.* keys)")
        }
        let logger = gateway.logger
        let queue = IngestQueue()
        let ingest = IngestService(queue: queue, committer: ReadingsCommitter(store: gateway.store, ledger: gateway.ledger),
                                   prefix: endpoint.prefix, logger: logger)
        let pairing = try PairingService(gateway: gateway)
        let mqtt = MQTTService(
            endpoint: .init(host: endpoint.host, port: endpoint.port, prefix: endpoint.prefix,
                            tls: .init(caFile: endpoint.caFile, certificateFile: endpoint.certificateFile, keyFile: endpoint.keyFile),
                            clientID: clientID),
            queue: queue, logger: logger,
            pairing: { id, payload in
                let response = await pairing.handle(sensorID: id, payload: payload)
                return (try? CanonicalJSON.encode(response)) ?? Array(#"{"reason":"internal error","status":"error"}"#.utf8)
            })
        let configuration = gateway.configuration
        let retention = RetentionService(
            retention: ReadingsRetention(store: gateway.store, policy: .init(
                maxAgeSeconds: configuration.readingsRetentionDays > 0 ? Int64(configuration.readingsRetentionDays) * 86_400 : nil,
                maxBytes: configuration.readingsMaxBytes > 0 ? configuration.readingsMaxBytes : nil)),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: retention), .init(service: ingest), .init(service: mqtt)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.notice("agora serve running", metadata: ["mqtt.host": "\(endpoint.host)", "mqtt.port": "\(endpoint.port)"])
        try await group.run()
        let stats = ingest.statistics
        let p50 = Self.milliseconds(ingest.latencyPercentile(50))
        let p99 = Self.milliseconds(ingest.latencyPercentile(99))
        logger.notice("agora serve stopped", metadata: [
            "ingest.packs": "\(stats.packs)", "ingest.stored": "\(stats.stored)", "ingest.malformed": "\(stats.malformed)",
            "ingest.unknown_sensor": "\(stats.unknownSensor)", "ingest.frozen": "\(stats.frozen)",
            "ingest.bad_topic": "\(stats.badTopic)", "ingest.queue_full": "\(queue.dropped)", "ingest.store_failed": "\(stats.storeFailed)",
            "ingest.p50_ms": "\(p50)", "ingest.p99_ms": "\(p99)",
        ])
    }

    /// `12.3`, or `-` when there was nothing to measure.
    static func milliseconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        return ((value * 10).rounded() / 10).description
    }
}
