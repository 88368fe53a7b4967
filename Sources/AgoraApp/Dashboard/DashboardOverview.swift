internal import AgoraCore
internal import AgoraMarket
internal import AgoraReadings
internal import AgoraStore

/// The dashboard's one JSON document (`GET /api/overview`), cut to what the viewer may see.
///
/// Operators see everything. Owners see the gateway's identity and health and their own
/// sensors. Consumers see the same identity and health and only the sensors they bought,
/// with readings counted and shown only inside the windows they bought — the access rule
/// of every other read (`AccessPolicy`), applied to the charts too. Absent sections (null
/// for those who may not see them) are left out of the JSON.
struct DashboardOverview: Encodable {
    struct Viewer: Encodable { var jid: String; var role: String }
    struct GatewayPart: Encodable {
        var domain: String, name: String, version: String, uptimeSeconds: Double, ready: Bool, problems: [String]
    }
    struct Broker: Encodable { var configured: Bool, connected: Bool }
    struct Sessions: Encodable { var negotiating: Int, bound: Int, detached: Int }
    struct Ingest: Encodable { var queueDepth: Int, stored: Int, dropped: Int, readingsPerMinute: [Int] }
    struct StorePart: Encodable { var usedBytes: Int, maxBytes: Int }
    struct LedgerPart: Encodable { var entries: UInt64, checkpointSize: UInt64, checkpointAgeSeconds: Double? }
    struct Sensor: Encodable {
        var id: String, kind: String, name: String, unit: String, owner: String, frozen: Bool
        var frequencySeconds: UInt32
        var lastReadingAt: String?
        var lastValue: Double?
        /// Readings in the last 24 h against what the declared frequency promises (nil: no frequency declared).
        var delivery: Double?
        var hourly: [Int]
        /// The trust model, for the viewer (issue 23): dependability, reputation, ratings in
        /// force, and the reliability R′ the gateway last sealed (nil: not yet).
        var dependability: Double
        var reputation: Double
        var ratings: Int
        var reliability: Double?
    }

    var viewer: Viewer
    var csrf: String
    var gateway: GatewayPart
    var broker: Broker?
    var sessions: Sessions?
    var ingest: Ingest?
    var store: StorePart?
    var ledger: LedgerPart
    var sensors: [Sensor]
    /// Sensors the viewer may see; `sensors` holds page `page` of them, `sensorsPageSize` a page.
    var sensorsTotal: Int
    var sensorsPageSize: Int

    /// Sensors per page, so the page stays well under 100 KB on a gateway with thousands.
    static let pageSize = 100

    static func build(for account: BareJID, csrf: String, telemetry: GatewayTelemetry, domain: String, page: Int = 0) throws -> DashboardOverview {
        let gateway = telemetry.gateway
        let tables = gateway.store.tables
        let live = try telemetry.live(activity: false)
        let now = Timestamp.now().seconds * 1_000_000_000
        let hour: Int64 = 3_600_000_000_000, minute: Int64 = 60_000_000_000
        // Buckets end with the current minute / hour.
        let hourStart = (now / hour + 1) * hour - 24 * hour
        let minuteStart = (now / minute + 1) * minute - 60 * minute
        return try gateway.store.read { txn in
            let state = MarketState(tables: tables, txn: txn)
            guard let record = try state.account(account) else { throw DashboardError.noAccount }
            let role = record.role
            var perMinute = [Int](repeating: 0, count: 60)
            var sensors: [Sensor] = []
            var visibleCount = 0
            let firstShown = max(0, page) * pageSize
            for sensor in try state.sensors() {
                // A consumer's windows of this sensor, in ns (what the access rule allows it).
                let bought = role == .consumer
                    ? try state.boughtWindows(of: sensor.id, by: account).map { (Int64($0.from) * 1_000_000_000, Int64($0.to) * 1_000_000_000) }
                    : nil
                let visible: Bool = switch role {
                case .operator: true
                case .owner: sensor.owner == account
                case .consumer: bought?.isEmpty == false
                }
                if role == .operator {
                    let counts = try ReadingsActivity.counts(sensor: sensor.index, start: minuteStart, width: minute, buckets: 60, tables: tables, in: txn)
                    for (index, count) in counts.enumerated() { perMinute[index] += count }
                }
                guard visible else { continue }
                visibleCount += 1
                guard visibleCount > firstShown, sensors.count < pageSize else { continue }
                let include: ((Int64) -> Bool)? = bought.map { spans in { time in spans.contains { $0.0 <= time && time < $0.1 } } }
                let activity = try ReadingsActivity.activity(sensor: sensor.index, start: hourStart, width: hour, buckets: 24,
                                                             include: include, tables: tables, in: txn)
                let registration = sensor.registration
                let scores = try state.scores(ofSensor: sensor.id, for: account, policy: gateway.configuration.trust,
                                              now: try Timestamp(seconds: now / 1_000_000_000), cache: gateway.market.trustCache)
                // Delivery over the last 24 h, or since registration when that is later.
                let watched = Double(now / 1_000_000_000 - max(now / 1_000_000_000 - 24 * 3600, sensor.registered.seconds))
                let expected = registration.frequency > 0 && watched >= Double(registration.frequency)
                    ? watched / Double(registration.frequency) : nil
                sensors.append(Sensor(
                    id: sensor.id.description, kind: registration.kind, name: registration.name, unit: registration.unit,
                    owner: sensor.owner.description, frozen: sensor.frozen, frequencySeconds: registration.frequency,
                    lastReadingAt: activity.newest.flatMap { (try? Timestamp(seconds: $0.time / 1_000_000_000))?.rfc3339 },
                    lastValue: activity.newest.flatMap { if case .number(let value) = $0.value { value } else { nil } },
                    delivery: expected.map { min(1, Double(activity.counts.reduce(0, +)) / $0) },
                    hourly: activity.counts,
                    dependability: scores.dependability.value, reputation: scores.reputation.value, ratings: scores.ratings,
                    reliability: scores.reliability))
            }
            let isOperator = role == .operator
            return DashboardOverview(
                viewer: .init(jid: account.description, role: role.rawValue), csrf: csrf,
                gateway: .init(domain: domain, name: (try? gateway.name()) ?? domain, version: live.version,
                               uptimeSeconds: live.uptimeSeconds, ready: live.ready, problems: isOperator ? live.problems : []),
                broker: isOperator ? .init(configured: live.mqtt != nil, connected: live.mqtt?.connected ?? false) : nil,
                sessions: isOperator ? live.xmpp.map { .init(negotiating: $0.negotiating, bound: $0.bound, detached: $0.detached) } : nil,
                ingest: isOperator ? .init(queueDepth: live.mqtt?.queueDepth ?? 0, stored: live.mqtt?.readingsStored ?? 0,
                                           dropped: live.mqtt.map { $0.dropped.values.reduce(0, +) } ?? 0, readingsPerMinute: perMinute) : nil,
                store: isOperator ? .init(usedBytes: live.store.usedBytes, maxBytes: live.store.maxMapSizeBytes) : nil,
                ledger: .init(entries: live.ledger.entries, checkpointSize: live.ledger.checkpointSize,
                              checkpointAgeSeconds: live.ledger.checkpointAgeSeconds),
                sensors: sensors, sensorsTotal: visibleCount, sensorsPageSize: pageSize)
        }
    }
}

enum DashboardError: Error { case noAccount }
