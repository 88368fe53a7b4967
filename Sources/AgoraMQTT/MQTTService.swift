public import Logging
public import ServiceLifecycle
internal import FoundationEssentials
internal import Synchronization

/// The gateway's broker connection as a `Service`: connects (and reconnects) with its
/// client certificate, subscribes at QoS 1 on every (re)connect, announces itself on
/// `<prefix>/gateway/status` (retained `online`, last will `offline`), and hands every
/// message to the ingest queue. On graceful shutdown it says `offline` and disconnects.
public final class MQTTService: Service, Sendable {
    public struct Endpoint: Sendable {
        public var host: String
        public var port: Int
        public var prefix: String
        public var tls: MosquittoClient.TLS
        public var clientID: String
        public init(host: String, port: Int, prefix: String, tls: MosquittoClient.TLS, clientID: String = BrokerConfiguration.gatewayClientID) {
            self.host = host; self.port = port; self.prefix = prefix; self.tls = tls; self.clientID = clientID
        }
    }

    /// Answers a pairing request (sensor id from the topic, payload) with the response payload.
    public typealias PairingHandler = @Sendable (_ sensorID: String, _ payload: [UInt8]) async -> [UInt8]

    let endpoint: Endpoint
    let queue: IngestQueue
    let logger: Logger
    let pairing: PairingHandler?
    /// Which pairing requests are handled (rate limits; see `PairingGate`).
    public let pairingGate: PairingGate
    /// Budget of the pairing warnings, so a flood cannot flood the journal too.
    private let pairingWarnings = LogAllowance()
    private let connected = Atomic<Bool>(false)
    /// Whether the broker has granted this connection's subscriptions yet.
    private let subscriptionState = Mutex(SubscriptionTracker())

    /// Whether the broker accepted the connection and it has not dropped since (for
    /// `/metrics` and the dashboard).
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// Whether the broker has acknowledged and granted the gateway's subscriptions on the
    /// current connection (`SubscriptionTracker`): `/readyz` waits for this, not for the
    /// connection alone.
    public var isListening: Bool { subscriptionState.withLock { $0.isListening } }

    /// Explains a TLS failure in words libmosquitto does not have (see `BrokerTLSDiagnosis`).
    public typealias TLSDiagnosis = @Sendable () async -> String?
    let tlsDiagnosis: TLSDiagnosis?
    /// Budget of the TLS explanations: one a minute while the failure lasts.
    private let tlsWarnings = LogAllowance(burst: 1, perSecond: 1.0 / 60)

    public init(endpoint: Endpoint, queue: IngestQueue, logger: Logger, pairing: PairingHandler? = nil,
                pairingGate: PairingGate = PairingGate(isInvited: { _ in true }), tlsDiagnosis: TLSDiagnosis? = nil) {
        self.tlsDiagnosis = tlsDiagnosis
        self.endpoint = endpoint
        self.queue = queue
        self.logger = logger
        self.pairing = pairing
        self.pairingGate = pairingGate
    }

    public func run() async throws {
        let statusTopic = "\(endpoint.prefix)/gateway/status"
        let probeTopic = GatewayTopic.probe(prefix: endpoint.prefix)
        let subscriptions = [GatewayTopic.readingsFilter(prefix: endpoint.prefix), probeTopic]
            + (pairing != nil ? [GatewayTopic.pairingRequestFilter(prefix: endpoint.prefix)] : [])
        let logger = self.logger, queue = self.queue, endpoint = self.endpoint, gate = self.pairingGate, warnings = self.pairingWarnings
        // Pairing requests are few and slow (a signature each): a small bounded stream, answered in order.
        let (requests, requestSink) = AsyncStream.makeStream(of: (String, [UInt8]).self, bufferingPolicy: .bufferingOldest(64))
        let holder = ClientHolder()
        let client = try MosquittoClient(
            clientID: endpoint.clientID, tls: endpoint.tls,
            onConnect: { result in
                guard result == 0 else {
                    logger.error("broker refused the connection", metadata: ["mqtt.result": "\(MQTTError.connackText(result))"])
                    return
                }
                self.connected.store(true, ordering: .relaxed)
                self.subscriptionState.withLock { $0.reset() }
                logger.notice("connected to the broker", metadata: ["mqtt.host": "\(endpoint.host)", "mqtt.port": "\(endpoint.port)"])
                do {
                    // Both callbacks run on the client's network thread, so every id is
                    // recorded before its SUBACK can arrive.
                    for pattern in subscriptions {
                        guard let id = try holder.client?.subscribe(pattern) else { continue }
                        self.subscriptionState.withLock { $0.sent(id) }
                    }
                    try holder.client?.publish(statusTopic, payload: Array("online".utf8), retain: true)
                } catch {
                    logger.error("subscribing failed", metadata: ["error": "\(error)"])
                }
            },
            onDisconnect: { result in
                self.connected.store(false, ordering: .relaxed)
                self.subscriptionState.withLock { $0.reset() }
                if result != 0 {
                    logger.warning("not connected to the broker; retrying with back-off", metadata: [
                        "mqtt.result": "\(MQTTError.text(result))", "mqtt.host": "\(endpoint.host)", "mqtt.port": "\(endpoint.port)"])
                    if result == MQTTError.tlsFailure, let diagnose = self.tlsDiagnosis, self.tlsWarnings.spend() != nil {
                        Task { if let reason = await diagnose() { logger.error("the broker connection fails: \(reason)") } }
                    }
                }
            },
            onSubscribe: { id, granted in
                switch self.subscriptionState.withLock({ $0.acknowledged(id, granted: granted) }) {
                case .granted:
                    var nonce = [UInt8](repeating: 0, count: 16)
                    var random = SystemRandomNumberGenerator()
                    for i in nonce.indices { nonce[i] = random.next() }
                    self.subscriptionState.withLock { $0.probeSent(nonce, at: .now) }
                    do { try holder.client?.publish(probeTopic, payload: nonce, retain: false) } catch {
                        logger.error("the delivery probe was not sent", metadata: ["error": "\(error)"])
                    }
                case .refused:
                    logger.error("the broker refused a subscription; check its ACL for the gateway's certificate",
                                 metadata: ["mqtt.granted": "\(granted)"])
                case .none: break
                }
            },
            // Acknowledge nothing before the ingester has stored (or dropped for good) all that was read.
            durable: .init(wait: { deadline, stillWaiting in queue.waitUntilSettled(queue.offered, deadline: deadline, stillWaiting: stillWaiting) },
                           interrupt: { queue.interruptSettleWait() }),
            onMessage: { topicName, payload in
                let topic = GatewayTopic(topicName, prefix: endpoint.prefix)
                if case .probe = topic {
                    if self.subscriptionState.withLock({ $0.echo(Array(payload)) }) {
                        logger.notice("subscribed to sensor readings")
                    }
                    return
                }
                if case .pairingRequest(let id) = topic {
                    guard gate.admit(id) else {
                        if let suppressed = warnings.spend() {
                            logger.warning("pairing requests dropped: over the rate limit", metadata: [
                                "sensor.id": "\(id.prefix(64))", "log.suppressed": "\(suppressed)",
                                "pairing.rate_limited": "\(gate.counts.rateLimited)"])
                        }
                        return
                    }
                    if case .dropped = requestSink.yield((id, Array(payload.prefix(64 * 1024 + 1)))) {
                        if let suppressed = warnings.spend() {
                            logger.warning("pairing request dropped: too many waiting", metadata: ["sensor.id": "\(id.prefix(64))", "log.suppressed": "\(suppressed)"])
                        }
                    }
                    return
                }
                let now = Int64((Date().timeIntervalSince1970 * 1e9).rounded())
                // Readings, and unexpected topics (the ingester counts and reports those).
                queue.offer(.init(topic: topic, payload: Array(payload), received: now))
            })
        holder.client = client
        try client.will(topic: statusTopic, payload: "offline", retain: true)
        try client.start(host: endpoint.host, port: endpoint.port)
        await withTaskGroup(of: Void.self) { group in
            if let pairing {
                group.addTask {
                    for await (id, payload) in requests {
                        let response = await pairing(id, payload)
                        do { try client.publish(GatewayTopic.pairingResponse(prefix: endpoint.prefix, id: id), payload: response) } catch {
                            logger.error("pairing response not sent", metadata: ["sensor.id": "\(id)", "error": "\(error)"])
                        }
                    }
                }
            }
            group.addTask {
                // Says once per connection that the broker granted everything and delivers
                // nothing back: the gateway is connected but hears no sensor.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if self.subscriptionState.withLock({ $0.probeIsOverdue(at: .now, limit: .seconds(10)) }) {
                        logger.error("""
                            the broker granted the subscriptions but does not deliver the gateway's own messages back: \
                            if mqtt.port (\(endpoint.port)) is the pairing listener, which takes no client certificate, use the \
                            certificate listener's port; otherwise check the broker's ACL for the gateway's certificate
                            """)
                    }
                }
            }
            try? await gracefulShutdown()
            requestSink.finish()
            group.cancelAll()
        }
        try? client.publish(statusTopic, payload: Array("offline".utf8), retain: true)
        try? await Task.sleep(for: .milliseconds(100)) // let the status leave before disconnecting
        await client.stop()
        connected.store(false, ordering: .relaxed)
        holder.client = nil
    }
}

/// Lets the connect callback reach the client it belongs to (set once after creation).
private final class ClientHolder: @unchecked Sendable {
    // @unchecked, safe because the accesses never overlap: `client` is written before
    // `start` (before the network thread exists; `pthread_create` orders the write before
    // everything that thread does) and after `stop` returned (the thread has ended; its end
    // is published through the Mutex `stop` waits on), and read only on that thread in between.
    var client: MosquittoClient?
}
