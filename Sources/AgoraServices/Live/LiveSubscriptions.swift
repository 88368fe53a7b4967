internal import AgoraCore
internal import AgoraStore
internal import FoundationEssentials
internal import Synchronization

/// One account's subscription to one sensor's node (XEP-0060 §6.1), kept per bare JID.
struct LiveSubscription: Hashable, Sendable {
    let sensor: SensorID
    let subscriber: BareJID
    /// XEP-0060's subscription id, stable for the subscription's life.
    let subid: String
    /// Items carry their proofs (the `agora#proofs` option).
    var proofs: Bool
}

/// Every subscription, durable in `live.subscriptions` (key `sensor ‖ 0 ‖ subscriber`, value
/// `subid ‖ 0 ‖ proofs`) and mirrored in memory, where the fan-out of every committed batch
/// looks its subscribers up without touching the store. Changes are written first, then
/// mirrored, so what a client was told is durable.
final class LiveSubscriptions: Sendable {
    private let store: Store
    private let bySensor = Mutex<[SensorID: [BareJID: LiveSubscription]]>([:])

    init(store: Store) throws {
        self.store = store
        var loaded: [SensorID: [BareJID: LiveSubscription]] = [:]
        try store.read { txn in
            try txn.scan(store.tables.liveSubscriptions) { key, value in
                if let subscription = Self.decode(key: Array(key), value: Array(value)) {
                    loaded[subscription.sensor, default: [:]][subscription.subscriber] = subscription
                }
                return true
            }
        }
        bySensor.withLock { $0 = loaded }
    }

    static func key(_ sensor: SensorID, _ subscriber: BareJID) -> [UInt8] {
        Array(sensor.rawValue.utf8) + [0] + Array(subscriber.description.utf8)
    }

    static func decode(key: [UInt8], value: [UInt8]) -> LiveSubscription? {
        guard let split = key.firstIndex(of: 0), let valueSplit = value.firstIndex(of: 0),
              let sensor = try? SensorID(String(decoding: key[..<split], as: UTF8.self)),
              let subscriber = try? BareJID(String(decoding: key[(split + 1)...], as: UTF8.self)) else { return nil }
        return LiveSubscription(sensor: sensor, subscriber: subscriber, subid: String(decoding: value[..<valueSplit], as: UTF8.self),
                                proofs: value.last == 1 && valueSplit < value.count - 1)
    }

    func subscribers(of sensor: SensorID) -> [LiveSubscription] {
        bySensor.withLock { $0[sensor].map { Array($0.values) } ?? [] }
    }

    func subscription(of subscriber: BareJID, to sensor: SensorID) -> LiveSubscription? {
        bySensor.withLock { $0[sensor]?[subscriber] }
    }

    func subscriptions(of subscriber: BareJID) -> [LiveSubscription] {
        bySensor.withLock { table in table.values.compactMap { $0[subscriber] } }.sorted { $0.sensor < $1.sensor }
    }

    var count: Int { bySensor.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Adds or changes a subscription, durably.
    func put(_ subscription: LiveSubscription) async throws {
        let table = store.tables.liveSubscriptions
        let key = Self.key(subscription.sensor, subscription.subscriber)
        let value = Array(subscription.subid.utf8) + [0, subscription.proofs ? 1 : 0]
        try await store.write { txn in try txn.put(table, key, value) }
        bySensor.withLock { $0[subscription.sensor, default: [:]][subscription.subscriber] = subscription }
    }

    /// Ends a subscription, durably; false when there was none.
    @discardableResult
    func remove(_ sensor: SensorID, _ subscriber: BareJID) async throws -> Bool {
        let table = store.tables.liveSubscriptions
        let key = Self.key(sensor, subscriber)
        let removed = try await store.write { txn in try txn.delete(table, key) }
        bySensor.withLock { table in
            table[sensor]?[subscriber] = nil
            if table[sensor]?.isEmpty == true { table[sensor] = nil }
        }
        return removed
    }

    /// A fresh subscription id.
    static func newID() -> String {
        var random = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(random.next() as UInt64, radix: 36) }.joined(separator: "-")
    }
}
