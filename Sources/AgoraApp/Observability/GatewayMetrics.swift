internal import AgoraCore
internal import AgoraMarket
internal import AgoraReadings
internal import AgoraServices
internal import AgoraStore
public import CoreMetrics
internal import Prometheus
internal import Synchronization

/// `/metrics`: the gateway's state in the Prometheus text format, through swift-prometheus.
///
/// Two kinds of series. Histograms (commit and receive-to-durable latency) are recorded
/// where the events happen, through swift-metrics `Timer`s made by `factory`, whose backend
/// is this registry. Everything else is read when scraped from the counters the parts
/// already keep (`GatewayTelemetry.live`), the same numbers `agora status` and the stop
/// summary show: one source for each number, and no cost between scrapes. Those are set
/// on the registry's counters and gauges, under one lock, just before it is rendered.
final class GatewayMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// The swift-metrics backend the parts record their histograms into.
    let factory: any MetricsFactory
    /// One scrape at a time (setting a counter is a reset and an increment), and the
    /// handles made by earlier scrapes: the registry checks names, labels and help text on
    /// every `make…`, which was a third of a scrape with 1000 sensors.
    private let scraping = Mutex(Handles())

    private struct Handles {
        var sensors: [String: (lastReading: Prometheus.Gauge, frequency: Prometheus.Gauge)] = [:]
        var gauges: [String: Prometheus.Gauge] = [:]
        var counters: [String: Prometheus.Counter] = [:]
    }

    init() {
        factory = DescribedTimers(registry: registry, timers: [
            "agora_store_commit_duration_seconds": (
                "Time to commit one group of writes to LMDB, fsync included.",
                [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                 .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)]),
            "agora_ingest_durable_latency_seconds": (
                "Time from a pack's arrival from the broker to its readings being durable.",
                [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                 .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10)]),
        ])
    }

    /// Renders the exposition for `telemetry` as of now.
    func render(_ telemetry: GatewayTelemetry) throws -> [UInt8] {
        let (records, sensors) = try sensorSeries(telemetry.gateway)
        let live = try telemetry.live(activity: false, sensors: records)
        return scraping.withLock { handles in
            set(live, &handles)
            if let service = telemetry.liveService { set(service, &handles) }
            // A sensor removed since the last scrape leaves no stale series behind.
            let current = Set(sensors.map(\.id))
            for (gone, gauges) in handles.sensors where !current.contains(gone) {
                registry.unregisterGauge(gauges.lastReading)
                registry.unregisterGauge(gauges.frequency)
                handles.sensors[gone] = nil
            }
            for sensor in sensors {
                let gauges = handles.sensors[sensor.id] ?? {
                    let made = (registry.makeGauge(name: "agora_sensor_last_reading_timestamp_seconds", labels: [("sensor", sensor.id)], help: Help.lastReading),
                                registry.makeGauge(name: "agora_sensor_frequency_seconds", labels: [("sensor", sensor.id)], help: Help.frequency))
                    handles.sensors[sensor.id] = made
                    return made
                }()
                gauges.lastReading.set(sensor.lastReading)
                // A frozen sensor's readings are refused on purpose: 0, so "silent" alerts skip it.
                gauges.frequency.set(sensor.frozen ? 0 : Double(sensor.frequency))
            }
            return registry.emitToBuffer()
        }
    }

    private enum Help {
        static let lastReading = "Time of the sensor's newest stored reading (its own timestamp), or of its registration when none arrived yet."
        static let frequency = "Seconds between readings, as the sensor's owner declared (0: unknown, or the sensor is frozen)."
    }

    private func sensorSeries(_ gateway: Gateway) throws -> ([SensorRecord], [(id: String, frequency: UInt32, frozen: Bool, lastReading: Double)]) {
        let tables = gateway.store.tables
        return try gateway.store.read { txn in
            let records = try MarketState(tables: tables, txn: txn).sensors()
            return (records, try records.map { sensor in
                let newest = try ReadingsActivity.newestTime(sensor: sensor.index, tables: tables, in: txn)
                return (sensor.id.description, sensor.registration.frequency, sensor.frozen,
                        newest.map { Double($0) / 1e9 } ?? Double(sensor.registered.seconds))
            })
        }
    }

    /// The live-readings service's counters (XEP-0060).
    private func set(_ service: LiveService, _ handles: inout Handles) {
        func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
            self.gauge(name, help, value, labels, &handles)
        }
        func counter(_ name: String, _ help: String, _ value: Int, _ labels: [(String, String)] = []) {
            self.counter(name, help, value, labels, &handles)
        }
        let counts = service.counters
        gauge("agora_live_subscriptions", "Live-readings subscriptions (XEP-0060), all accounts.", Double(service.subscriptionCount))
        counter("agora_live_items_published_total", "Committed batches published to at least one subscriber.", counts.published)
        counter("agora_live_deliveries_total", "Live items handed to sessions.", counts.delivered)
        counter("agora_live_kept_offline_total", "Live items kept for accounts with no available resource.", counts.keptOffline)
        for (reason, count) in [("slow_session", counts.droppedQueue), ("offline_full", counts.droppedOffline), ("hand_over_full", counts.droppedHandOver)] {
            counter("agora_live_dropped_total", "Live items dropped (the readings stay in the store), by reason.", count, [("reason", reason)])
        }
        counter("agora_live_subscribe_refused_total", "Subscribe requests refused (no window to come, quota, bad node or JID).", counts.refused)
    }

    private func set(_ live: LiveStatus, _ handles: inout Handles) {
        func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
            self.gauge(name, help, value, labels, &handles)
        }
        func counter(_ name: String, _ help: String, _ value: Int, _ labels: [(String, String)] = []) {
            self.counter(name, help, value, labels, &handles)
        }
        gauge("agora_start_time_seconds", "When agora serve started, in seconds since the epoch.", (Double(Timestamp.now().seconds) - live.uptimeSeconds).rounded())
        gauge("agora_ready", "1 when the listeners are bound and the broker (if configured) is connected.", live.ready ? 1 : 0)
        gauge("agora_build_info", "Always 1; the version in a label.", 1, [("version", live.version)])
        if let xmpp = live.xmpp {
            for (state, count) in [("negotiating", xmpp.negotiating), ("bound", xmpp.bound), ("detached", xmpp.detached)] {
                gauge("agora_xmpp_sessions", "XMPP connections and sessions by state.", Double(count), [("state", state)])
            }
            counter("agora_xmpp_connections_total", "XMPP connections accepted.", xmpp.connections)
            counter("agora_xmpp_refused_connections_total", "XMPP connections refused (too many, or too fast from one address).", xmpp.refusedConnections)
            counter("agora_xmpp_logins_total", "Successful SASL authentications.", xmpp.logins)
            counter("agora_xmpp_auth_failures_total", "Failed SASL authentications.", xmpp.authFailures)
            counter("agora_xmpp_auth_throttled_total", "SASL attempts refused by the back-off.", xmpp.authThrottled)
            counter("agora_xmpp_resumptions_total", "XEP-0198 sessions resumed.", xmpp.resumptions)
            counter("agora_xmpp_presence_dropped_total", "Presence stanzas dropped because the sender's lane was full.", xmpp.presenceDropped)
            for (kind, count) in xmpp.stanzasIn { counter("agora_xmpp_stanzas_received_total", "Stanzas received from clients, by kind.", count, [("kind", kind)]) }
            for (kind, count) in xmpp.stanzasOut { counter("agora_xmpp_stanzas_sent_total", "Stanzas written to clients, by kind.", count, [("kind", kind)]) }
            for (condition, count) in xmpp.streamErrors { counter("agora_xmpp_stream_errors_total", "Streams ended with an error, by condition.", count, [("condition", condition)]) }
            for (condition, count) in xmpp.iqErrors { counter("agora_xmpp_iq_errors_total", "IQs answered with an error, by condition.", count, [("condition", condition)]) }
            for (bound, count) in xmpp.offlineRefused { counter("agora_xmpp_offline_refused_total", "Messages refused offline storage, by the bound that refused them.", count, [("bound", bound)]) }
            if let rooms = xmpp.mucRooms, let occupants = xmpp.mucOccupants {
                gauge("agora_muc_rooms", "Multi-user chat rooms (XEP-0045).", Double(rooms))
                gauge("agora_muc_occupants", "Occupants of all rooms.", Double(occupants))
            }
            if let messages = xmpp.mucMessages { counter("agora_muc_messages_total", "Groupchat messages rooms relayed.", messages) }
            for (direction, count) in xmpp.blocked ?? [:] {
                counter("agora_xmpp_blocked_total", "Stanzas a block list stopped (XEP-0191): outbound to whom the sender blocks, inbound from whom the recipient blocks.",
                        count, [("direction", direction)])
            }
            if let s2s = xmpp.s2s {
                for (direction, count) in s2s.streams { counter("agora_s2s_streams_total", "Server-to-server streams opened, by direction.", count, [("direction", direction)]) }
                for (how, count) in s2s.authenticated {
                    counter("agora_s2s_authenticated_total", "Server-to-server peers authenticated (inbound) or that accepted us (outbound), by direction and mechanism.",
                            count, [("how", how)])
                }
                for (reason, count) in s2s.refused { counter("agora_s2s_refused_total", "What federation refused or was refused, by reason.", count, [("reason", reason)]) }
                for (direction, count) in s2s.stanzas { counter("agora_s2s_stanzas_total", "Stanzas carried over server-to-server links, by direction.", count, [("direction", direction)]) }
                for (condition, count) in s2s.bounced {
                    counter("agora_s2s_bounced_total", "Stanzas returned to local senders because a peer could not be reached, by error.", count, [("condition", condition)])
                }
            }
            for (reason, count) in xmpp.mucRefused ?? [:] {
                counter("agora_muc_refused_total", "What the rooms refused (entries, messages, changes), by reason.", count, [("reason", reason)])
            }
        }
        if let mqtt = live.mqtt {
            gauge("agora_mqtt_connected", "1 while the broker connection is up.", mqtt.connected ? 1 : 0)
            counter("agora_ingest_packs_total", "SenML packs taken from the broker.", mqtt.packs)
            counter("agora_ingest_readings_total", "Readings made durable.", mqtt.readingsStored)
            counter("agora_ingest_duplicates_total", "Readings already stored (redeliveries), not stored again.", mqtt.duplicates)
            counter("agora_ingest_held_for_space_total", "Ingest batches held back while the store had no space.", mqtt.heldForSpace)
            for (reason, count) in mqtt.dropped { counter("agora_ingest_dropped_total", "Readings or packs not stored, by reason.", count, [("reason", reason)]) }
            gauge("agora_ingest_queue_depth", "Packs received and not yet durable.", Double(mqtt.queueDepth))
            for (outcome, count) in mqtt.pairing { counter("agora_pairing_attempts_total", "Pairing requests, by outcome.", count, [("outcome", outcome)]) }
        }
        counter("agora_store_batches_total", "Group commits.", live.store.batches)
        counter("agora_store_failed_requests_total", "Write requests that failed.", live.store.failedRequests)
        counter("agora_store_disk_full_refusals_total", "Write requests refused because the disk was full.", live.store.diskFullRefusals)
        gauge("agora_store_disk_full", "1 while writes fail for want of disk space.", live.store.diskFull ? 1 : 0)
        gauge("agora_store_map_size_bytes", "The LMDB map's current size.", Double(live.store.mapSizeBytes))
        gauge("agora_store_map_max_bytes", "The size the LMDB map may grow to (store.max_map_size).", Double(live.store.maxMapSizeBytes))
        gauge("agora_store_used_bytes", "Bytes of the map in use.", Double(live.store.usedBytes))
        gauge("agora_ledger_entries", "Entries in the ledger.", Double(live.ledger.entries))
        gauge("agora_ledger_checkpoint_size", "Entries covered by the newest signed checkpoint.", Double(live.ledger.checkpointSize))
        gauge("agora_ledger_checkpoint_age_seconds", "Seconds since the stored checkpoint last grew (as seen by this process since it started).", live.ledger.checkpointAgeSeconds)
        // Totals from the ledger appear once they cover all of it: a partial total would
        // look like a burst of activity to rate().
        if live.ledger.ledgerTotalsComplete {
            counter("agora_certificates_issued_total", "Certificates issued, from the ledger.", live.ledger.certificatesIssued)
            counter("agora_certificates_revoked_total", "Certificates revoked, from the ledger.", live.ledger.certificatesRevoked)
            counter("agora_market_purchases_total", "Purchases, from the ledger.", live.ledger.purchases)
            counter("agora_market_credits_spent_total", "Credits paid for purchases, from the ledger.", Int(clamping: live.ledger.creditsSpent))
        }
        gauge("agora_accounts", "Accounts.", Double(live.ledger.accounts))
        gauge("agora_sensors", "Registered sensors, by state.", Double(live.ledger.sensors - live.ledger.frozenSensors), [("state", "active")])
        gauge("agora_sensors", "Registered sensors, by state.", Double(live.ledger.frozenSensors), [("state", "frozen")])
        if let witness = live.witness {
            for (outcome, count) in witness.requests {
                counter("agora_witness_requests_total", "add-checkpoint requests answered as a witness, by outcome.", count, [("outcome", outcome)])
            }
            for (origin, size) in witness.logs {
                gauge("agora_witness_log_cosigned_size", "As a witness: the tree size last cosigned, per log.", Double(size), [("origin", origin)])
            }
            if !witness.peers.isEmpty {
                gauge("agora_ledger_witnessed_size", "The newest checkpoint size with the required cosignatures.", Double(witness.witnessedSize))
                gauge("agora_ledger_witnesses_required", "Cosignatures a checkpoint needs (witness.min_cosignatures).", Double(witness.required))
            }
            for peer in witness.peers {
                gauge("agora_witness_peer_cosigned_size", "The size of this log a witness last cosigned.", Double(peer.cosignedSize), [("witness", peer.name)])
                if let age = peer.cosignedAgeSeconds {
                    gauge("agora_witness_peer_cosigned_age_seconds", "Seconds since a witness last cosigned.", age, [("witness", peer.name)])
                }
                counter("agora_witness_peer_failures_total", "Failed submissions to a witness.", peer.failures, [("witness", peer.name)])
            }
        }
        if let http = live.http {
            counter("agora_http_connections_total", "HTTP connections accepted.", http.connections)
            for (code, count) in http.responses { counter("agora_http_responses_total", "HTTP responses, by status code.", count, [("code", code)]) }
            for (reason, count) in http.refused { counter("agora_http_refused_total", "HTTP requests or connections refused before routing, by reason.", count, [("reason", reason)]) }
            for (outcome, count) in http.dashboardLogins { counter("agora_dashboard_logins_total", "Dashboard logins, by outcome.", count, [("outcome", outcome)]) }
        }
    }

    private func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)], _ handles: inout Handles) {
        let key = Self.key(name, labels)
        let gauge = handles.gauges[key] ?? registry.makeGauge(name: name, labels: labels, help: help)
        handles.gauges[key] = gauge
        gauge.set(value)
    }

    /// Sets a counter to a total the gateway keeps (the registry's counters only count up).
    private func counter(_ name: String, _ help: String, _ value: Int, _ labels: [(String, String)], _ handles: inout Handles) {
        let key = Self.key(name, labels)
        let counter = handles.counters[key] ?? registry.makeCounter(name: name, labels: labels, help: help)
        handles.counters[key] = counter
        counter.reset()
        counter.increment(by: Int64(value))
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "|" + $1.0 + "=" + $1.1 }
    }
}

/// swift-prometheus' swift-metrics backend, with HELP text and buckets for the timers named
/// here: its own factory registers every metric without help, which `promtool check
/// metrics` reports, and the registry refuses a second registration with other help.
struct DescribedTimers: MetricsFactory {
    let prometheus: PrometheusMetricsFactory
    let registry: PrometheusCollectorRegistry
    let timers: [String: (help: String, buckets: [Duration])]

    init(registry: PrometheusCollectorRegistry, timers: [String: (help: String, buckets: [Duration])]) {
        self.registry = registry
        self.prometheus = PrometheusMetricsFactory(registry: registry)
        self.timers = timers
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let timer = timers[label] else { return prometheus.makeTimer(label: label, dimensions: dimensions) }
        return registry.makeDurationHistogram(name: label, labels: dimensions, buckets: timer.buckets, help: timer.help)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        prometheus.makeCounter(label: label, dimensions: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        prometheus.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    func destroyCounter(_ handler: any CounterHandler) { prometheus.destroyCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { prometheus.destroyRecorder(handler) }
    func destroyTimer(_ handler: any TimerHandler) { prometheus.destroyTimer(handler) }
}
