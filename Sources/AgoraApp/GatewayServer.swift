internal import AgoraMQTT
internal import AgoraReadings
internal import AgoraXMPP
internal import AgoraServices
internal import AgoraCore
internal import Logging
internal import ServiceLifecycle
internal import AgoraHTTP

/// `agora serve`: the gateway's long-running services, in dependency order — retention,
/// the ingester, then the broker connection that feeds it (when a broker is configured),
/// the XMPP server (unless `xmpp.enabled = false`), and the HTTP listener (metrics, health,
/// dashboard; unless `http.port = 0`). A `ServiceGroup` starts them and, on
/// SIGTERM or SIGINT, shuts them down in reverse: the broker connection stops taking
/// messages, then the ingester stores what is queued, then the store seals a checkpoint.
public enum GatewayServer {
    /// - Parameter clientID: the MQTT client id; nil: the one the broker endpoint records.
    public static func run(_ gateway: Gateway, clientID: String? = nil,
                           environment: [String: String] = [:], started: ContinuousClock.Instant = .now) async throws {
        let logger = gateway.logger
        let configuration = gateway.configuration
        let lock = try ServeLock(stateDirectory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let retention = RetentionService(
            retention: ReadingsRetention(store: gateway.store, policy: .init(
                maxAgeSeconds: configuration.readingsRetentionDays > 0 ? Int64(configuration.readingsRetentionDays) * 86_400 : nil,
                maxBytes: configuration.readingsMaxBytes > 0 ? configuration.readingsMaxBytes : nil)),
            logger: logger)
        services.append(.init(service: retention))
        services.append(.init(service: GroupRefundService(market: gateway.market, logger: logger)))
        if configuration.reliabilityIntervalSeconds > 0 {
            services.append(.init(service: ReliabilityService(sealer: ReliabilitySealer(market: gateway.market, ranges: configuration.kindRanges),
                                                              interval: Int64(configuration.reliabilityIntervalSeconds), logger: logger)))
        }

        // The XMPP server is built first (it starts later, in the order below): its live
        // service is what the ingester tells of each durable batch.
        var xmpp: XMPPServer?
        var xmppConfiguration: XMPPConfiguration?
        var live: LiveService?
        if configuration.xmppEnabled {
            let settings = try await XMPPSetup.configuration(for: gateway)
            (xmpp, live) = try XMPPSetup.server(for: gateway, configuration: settings, logger: logger)
            xmppConfiguration = settings
        }

        let metrics = GatewayMetrics()
        gateway.store.writer.recordCommitDurations(in: metrics.factory)
        let pairingOutcomes = OutcomeCounts(["paired", "refused"])
        var ingest: GatewayTelemetry.Ingest?
        if let endpoint = try BrokerSetup.endpoint(for: gateway) {
            let queue = IngestQueue()
            var onCommit: (@Sendable ([CommittedBatch]) -> Void)?
            if let live { onCommit = { live.committed($0) } }
            let service = IngestService(queue: queue, committer: ReadingsCommitter(store: gateway.store, ledger: gateway.ledger, onCommit: onCommit),
                                        logger: logger, metrics: metrics.factory)
            let pairing = try PairingResponder(gateway: gateway)
            let mqtt = MQTTService(
                endpoint: .init(host: endpoint.host, port: endpoint.port, prefix: endpoint.prefix,
                                tls: .init(caFile: endpoint.caFile, certificateFile: endpoint.certificateFile, keyFile: endpoint.keyFile),
                                clientID: clientID ?? endpoint.clientID ?? BrokerSetup.legacyClientID),
                queue: queue, logger: logger,
                pairing: { id, payload in
                    let response = await pairing.handle(sensorID: id, payload: payload)
                    pairingOutcomes.record(response.status == "ok" ? "paired" : "refused")
                    return (try? CanonicalJSON.encode(response)) ?? Array(#"{"reason":"internal error","status":"error"}"#.utf8)
                },
                pairingGate: PairingGate(isInvited: { pairing.isInvited($0) }),
                tlsDiagnosis: { [tls = MosquittoClient.TLS(caFile: endpoint.caFile, certificateFile: endpoint.certificateFile, keyFile: endpoint.keyFile)] in
                    await BrokerTLSDiagnosis.diagnose(host: endpoint.host, port: endpoint.port, tls: tls)
                })
            services += [.init(service: service), .init(service: mqtt)]
            ingest = .init(service: service, queue: queue, gate: mqtt.pairingGate, mqtt: mqtt)
            logger.notice("mqtt configured", metadata: ["mqtt.host": "\(endpoint.host)", "mqtt.port": "\(endpoint.port)"])
        } else {
            logger.notice("no broker endpoint recorded (agora broker-config, or the mqtt.* keys): MQTT ingestion is off")
        }

        if let xmpp { services.append(.init(service: xmpp)) }
        if let xmpp, !configuration.registry.jid.isEmpty {
            guard configuration.xmpp.s2s.enabled else {
                throw ConfigurationError.key("registry.jid", source: "config", "registering at a registry needs [s2s] enabled")
            }
            guard configuration.registry.jid != XMPPSetup.domain(of: gateway) else {
                throw ConfigurationError.key("registry.jid", source: "config", "this gateway is the registry: its own sensors are in its searches already")
            }
            services.append(.init(service: RegistryPublisher(market: gateway.market, registry: configuration.registry.jid,
                                                             interval: .seconds(configuration.registry.syncSeconds),
                                                             send: { xmpp.sendAsServer($0) }, ready: { await xmpp.waitUntilListening() }, logger: logger)))
        }
        if let live { services.append(.init(service: live)) }
        guard ingest != nil || xmpp != nil else {
            throw GatewayError.file(gateway.configuration.stateDirectory, "nothing to serve: no broker endpoint recorded and xmpp.enabled = false")
        }
        let telemetry = GatewayTelemetry(gateway: gateway, xmpp: xmpp, ingest: ingest, live: live, pairing: pairingOutcomes)
        let witnessing = try await WitnessSetup.make(for: gateway, logger: logger)
        telemetry.witness = witnessing
        if let submitter = witnessing.submitter { services.append(.init(service: submitter)) }
        let http = try HTTPSetup.server(for: telemetry, metrics: metrics, domain: XMPPSetup.domain(of: gateway),
                                        xmpp: xmppConfiguration, witness: witnessing.endpoint, logger: logger)
        if let http {
            telemetry.http = http
            services.append(.init(service: ObservabilityListener(server: http, logger: logger)))
        }
        let listening = xmpp
        services.append(.init(service: ReadinessService(
            notifier: SystemdNotifier(environment: environment),
            ready: {
                guard await listening?.waitUntilListening() ?? true else { return false }
                // The HTTP listener is waited for, but its failing to bind does not keep the
                // gateway from being ready (see ObservabilityListener).
                _ = await http?.waitUntilListening()
                return true
            }, started: started, logger: logger)))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("agora serve starting its services")
        try await group.run()
        let writes = gateway.store.writer.statistics
        var summary: Logger.Metadata = [
            "store.batches": "\(writes.batches)", "store.failed_requests": "\(writes.failedRequests)",
            "store.disk_full_refusals": "\(writes.diskFullRefusals)", "store.disk_full_episodes": "\(writes.diskFullEpisodes)",
        ]
        if let ingest {
            let (service, queue) = (ingest.service, ingest.queue)
            let stats = service.statistics
            let pairingCounts = ingest.gate.counts
            summary.merge([
                "ingest.packs": "\(stats.packs)", "ingest.stored": "\(stats.stored)", "ingest.malformed": "\(stats.malformed)",
                "ingest.unknown_sensor": "\(stats.unknownSensor)", "ingest.frozen": "\(stats.frozen)", "ingest.revoked": "\(stats.revoked)",
                "ingest.bad_topic": "\(stats.badTopic)", "ingest.queue_full": "\(queue.dropped)", "ingest.store_failed": "\(stats.storeFailed)",
                "ingest.held_for_space": "\(stats.heldForSpace)",
                "pairing.admitted": "\(pairingCounts.admitted)", "pairing.rate_limited": "\(pairingCounts.rateLimited)", "ingest.duplicates": "\(stats.duplicates)",
                "ingest.p50_ms": "\(Self.milliseconds(service.latencyPercentile(50)))", "ingest.p99_ms": "\(Self.milliseconds(service.latencyPercentile(99)))",
                "ingest.age_p50_ms": "\(Self.milliseconds(service.agePercentile(50)))", "ingest.age_p99_ms": "\(Self.milliseconds(service.agePercentile(99)))",
            ]) { $1 }
        }
        if let xmpp {
            let counts = xmpp.metrics.snapshot
            summary.merge([
                "xmpp.connections": "\(counts.connections)", "xmpp.logins": "\(counts.logins)", "xmpp.auth_failures": "\(counts.authFailures)",
                "xmpp.auth_throttled": "\(counts.authThrottled)", "xmpp.refused_connections": "\(counts.refusedConnections)",
                "xmpp.resumptions": "\(counts.resumptions)", "xmpp.presence_dropped": "\(counts.presenceDropped)",
                "xmpp.offline_refused": "\(counts.offlineRefused.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
                "xmpp.stream_errors": "\(counts.streamErrors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
                "xmpp.iq_errors": "\(counts.iqErrors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            ]) { $1 }
        }
        logger.notice("agora serve stopped", metadata: summary)
        do {
            try await LastRun(stoppedAt: Timestamp.now().rfc3339, counters: summary.mapValues { "\($0)" }).record(in: gateway)
        } catch {
            logger.warning("the run's counters were not kept for agora status", metadata: ["error": "\(error)"])
        }
    }

    /// `12.3`, or `-` when there was nothing to measure.
    static func milliseconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        return ((value * 10).rounded() / 10).description
    }
}
