internal import AgoraCore
internal import AgoraHTTP
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraMQTT
internal import AgoraReadings
internal import AgoraServices
internal import AgoraStore
internal import AgoraXMPP
internal import Synchronization

/// The running gateway's parts as observers see them: what `/metrics`, `/status.json`,
/// `/readyz` and the dashboard read. It holds no counters of its own (but pairing
/// outcomes); it reads the parts' counters and the store when asked, so an observer
/// costs nothing between requests.
final class GatewayTelemetry: Sendable {
    let gateway: Gateway
    let started = ContinuousClock.now
    let xmpp: XMPPServer?
    let ingest: Ingest?
    /// The live-readings service (XEP-0060), when it runs.
    let liveService: LiveService?
    /// Pairing requests answered: `paired` or `refused` (the rate-limited ones never reach
    /// an answer and are counted by the MQTT side's `PairingGate`).
    let pairing: OutcomeCounts
    /// Dashboard logins: `accepted`, `refused`, `throttled`.
    let dashboardLogins = OutcomeCounts(["accepted", "refused", "throttled"])
    let tally = LedgerTally()
    private let httpServer = Mutex<HTTPServer?>(nil)
    private let witnessing = Mutex<Witnessing?>(nil)
    /// The stored checkpoint's size when last looked at, and since when it has been that.
    private let checkpointSeen = Mutex<(size: UInt64, since: ContinuousClock.Instant)?>(nil)

    /// The MQTT side, when a broker is configured.
    struct Ingest: Sendable {
        let service: IngestService
        let queue: IngestQueue
        let gate: PairingGate
        let mqtt: MQTTService
    }

    init(gateway: Gateway, xmpp: XMPPServer?, ingest: Ingest?, live: LiveService? = nil, pairing: OutcomeCounts = OutcomeCounts(["paired", "refused"])) {
        self.gateway = gateway
        self.liveService = live
        self.pairing = pairing
        self.xmpp = xmpp
        self.ingest = ingest
    }

    /// The witness endpoint and this log's witnesses, when configured.
    var witness: Witnessing? {
        get { witnessing.withLock { $0 } }
        set { witnessing.withLock { $0 = newValue } }
    }

    var http: HTTPServer? {
        get { httpServer.withLock { $0 } }
        set { httpServer.withLock { $0 = newValue } }
    }

    var uptimeSeconds: Double { (ContinuousClock.now - started).secondsValue }

    /// What keeps the gateway from being ready, if anything: a listener not bound, or the
    /// broker not connected (or its subscriptions not yet granted and its probe not yet back) when MQTT is configured. (The store is open for as long as
    /// this object exists.)
    var notReadyReasons: [String] {
        var reasons: [String] = []
        if let xmpp, xmpp.ports.isEmpty { reasons.append("the XMPP listeners are not bound") }
        if let ingest {
            if !ingest.mqtt.isConnected {
                reasons.append("the broker is not connected")
            } else if !ingest.mqtt.isListening {
                reasons.append("the broker has not granted the gateway's subscriptions, or does not deliver its messages back (is mqtt.port the pairing listener?)")
            }
        }
        if gateway.store.writer.statistics.diskFull { reasons.append("the disk is full: writes are refused") }
        return reasons
    }

    /// Everything at once, from one read transaction. `activity`: also count the readings
    /// of the last minute (a key walk per sensor; `/metrics` leaves it to PromQL's rate()).
    /// `sensors`: the sensor rows when the caller has just read them.
    func live(activity: Bool, sensors known: [SensorRecord]? = nil) throws -> LiveStatus {
        let store = gateway.store
        let tables = store.tables
        let ledger = gateway.ledger
        let writes = store.writer.statistics
        let (ledgerPart, lastMinute) = try store.read { txn -> (LiveStatus.Ledger, Int) in
            let state = MarketState(tables: tables, txn: txn)
            let sensors = try known ?? state.sensors()
            let totals = tally.update(ledger: ledger, in: txn)
            var lastMinute = 0
            if activity {
                let start = (Timestamp.now().seconds - 60) * 1_000_000_000
                for sensor in sensors {
                    lastMinute += try ReadingsActivity.counts(sensor: sensor.index, start: start, width: 60_000_000_000, buckets: 1,
                                                              tables: tables, in: txn)[0]
                }
            }
            let checkpointSize = try ledger.latestCheckpoint(in: txn)?.size ?? 0
            return (LiveStatus.Ledger(
                entries: try ledger.size(in: txn), checkpointSize: checkpointSize,
                checkpointAgeSeconds: checkpointAge(size: checkpointSize),
                ledgerTotalsComplete: totals.complete, certificatesIssued: totals.certificatesIssued, certificatesRevoked: totals.certificatesRevoked,
                purchases: totals.purchases, creditsSpent: totals.creditsSpent,
                accounts: try txn.count(tables.accounts), sensors: sensors.count, frozenSensors: sensors.filter(\.frozen).count), lastMinute)
        }
        let environment = store.environment
        let problems = notReadyReasons
        return LiveStatus(
            version: AgoraVersion.current, uptimeSeconds: uptimeSeconds, ready: problems.isEmpty, problems: problems,
            xmpp: xmpp.map(Self.xmppPart), mqtt: ingest.map { mqttPart($0, lastMinute: lastMinute) },
            store: .init(batches: writes.batches, failedRequests: writes.failedRequests, diskFullRefusals: writes.diskFullRefusals,
                         diskFull: writes.diskFull, mapSizeBytes: environment.currentMapSize, maxMapSizeBytes: environment.maxMapSize,
                         usedBytes: environment.usedBytes),
            ledger: ledgerPart,
            http: http.map { server in
                let counts = server.metrics.snapshot
                return .init(connections: counts.connections,
                             responses: Dictionary(uniqueKeysWithValues: counts.responses.map { ("\($0.key)", $0.value) }),
                             refused: Dictionary(uniqueKeysWithValues: counts.refused.map { ($0.key.rawValue, $0.value) }),
                             dashboardLogins: dashboardLogins.counts)
            },
            witness: try witness.map(witnessPart))
    }

    /// Seconds since the stored checkpoint last grew, as seen by these reads (or since the
    /// process started). Checkpoints carry no time of their own (C2SP tlog-checkpoint), and
    /// only a committed one counts: a seal in a batch that failed leaves the age growing.
    private func checkpointAge(size: UInt64) -> Double {
        let now = ContinuousClock.now
        let since = checkpointSeen.withLock { seen -> ContinuousClock.Instant in
            guard let previous = seen, previous.size == size else {
                let since = seen == nil ? started : now
                seen = (size, since)
                return since
            }
            return previous.since
        }
        return (now - since).secondsValue
    }

    private func witnessPart(_ witnessing: Witnessing) throws -> LiveStatus.Witness {
        let statuses = witnessing.submitter?.statuses ?? [:]
        let peers = (witnessing.submitter?.peers ?? []).map { peer in
            let status = statuses[peer.verifier.description]
            return LiveStatus.Witness.Peer(name: peer.verifier.name, url: peer.url, cosignedSize: status?.cosignedSize ?? 0,
                                           cosignedAgeSeconds: status?.lastCosigned.map { (ContinuousClock.now - $0).secondsValue },
                                           failures: status?.failures ?? 0, lastError: status?.lastError)
        }
        let required = witnessing.submitter?.required ?? 0
        let sizes = peers.map(\.cosignedSize).sorted(by: >)
        return .init(requests: witnessing.endpoint?.counts ?? [:],
                     logs: Dictionary(try gateway.witnessedLogs().map { ($0.origin, $0.size) }, uniquingKeysWith: max),
                     required: required, witnessedSize: required > 0 && sizes.count >= required ? sizes[required - 1] : 0, peers: peers)
    }

    private static func xmppPart(_ server: XMPPServer) -> LiveStatus.XMPP {
        let counts = server.metrics.snapshot
        let states = server.sessionStates
        func named(_ map: [XMPPMetrics.StanzaKind: Int]) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: map.map { ($0.key.rawValue, $0.value) })
        }
        return .init(negotiating: states.negotiating, bound: states.bound, detached: states.detached,
                     connections: counts.connections, refusedConnections: counts.refusedConnections, logins: counts.logins,
                     authFailures: counts.authFailures, authThrottled: counts.authThrottled, resumptions: counts.resumptions,
                     presenceDropped: counts.presenceDropped, stanzasIn: named(server.metrics.stanzas(inbound: true)),
                     stanzasOut: named(server.metrics.stanzas(inbound: false)), streamErrors: counts.streamErrors,
                     iqErrors: counts.iqErrors, offlineRefused: counts.offlineRefused,
                     mucRooms: server.roomCounts?.rooms, mucOccupants: server.roomCounts?.occupants,
                     mucMessages: server.roomCounts == nil ? nil : counts.mucMessages, mucRefused: server.roomCounts == nil ? nil : counts.mucRefused,
                     blocked: counts.blocked,
                     s2s: server.configuration.s2s.enabled
                        ? .init(streams: counts.s2sStreams, authenticated: counts.s2sAuthenticated, refused: counts.s2sRefused,
                                stanzas: counts.s2sStanzas, bounced: counts.s2sBounced) : nil)
    }

    private func mqttPart(_ ingest: Ingest, lastMinute: Int) -> LiveStatus.MQTT {
        let stats = ingest.service.statistics
        let gate = ingest.gate.counts
        var pairing = self.pairing.counts
        pairing["rate_limited"] = gate.rateLimited
        return .init(connected: ingest.mqtt.isConnected, packs: stats.packs, readingsStored: stats.stored,
                     duplicates: stats.duplicates, heldForSpace: stats.heldForSpace,
                     dropped: ["malformed": stats.malformed, "bad_topic": stats.badTopic, "unknown_sensor": stats.unknownSensor,
                               "frozen": stats.frozen, "revoked": stats.revoked, "queue_full": ingest.queue.dropped,
                               "store_failed": stats.storeFailed],
                     queueDepth: ingest.queue.count, pairing: pairing, readingsLastMinute: lastMinute)
    }
}

/// Answers counted by outcome (pairing requests, dashboard logins, witness submissions):
/// a few counters that `/metrics` and `agora status` read. Outcomes named at creation show
/// as 0 before their first.
final class OutcomeCounts: Sendable {
    private let state: Mutex<[String: Int]>
    init(_ outcomes: [String] = []) { state = Mutex(Dictionary(uniqueKeysWithValues: outcomes.map { ($0, 0) })) }
    func record(_ outcome: String) { state.withLock { $0[outcome, default: 0] += 1 } }
    var counts: [String: Int] { state.withLock { $0 } }
}
