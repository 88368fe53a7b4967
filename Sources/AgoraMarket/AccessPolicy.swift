public import AgoraCore
public import AgoraStore

/// "May X read sensor S at time t?" — the one rule every read of sensor data obeys.
///
/// Yes for the sensor's owner, for operators, and for a buyer with a purchase whose
/// window `[from, to)` covers t. Everyone else is refused with the reason.
public enum AccessDecision: Hashable, Sendable {
    case owner
    case `operator`
    case purchased(purchaseID: String)
    case denied(String)

    public var isAllowed: Bool { if case .denied = self { return false }; return true }
}

public enum AccessPolicy {
    public static func mayRead(_ reader: BareJID, sensor id: SensorID, at time: Timestamp,
                               in txn: ReadTransaction, tables: Tables) throws -> AccessDecision {
        let state = MarketState(tables: tables, txn: txn)
        guard let sensor = try state.sensor(id) else { return .denied("no sensor \(id)") }
        if sensor.owner == reader { return .owner }
        guard let account = try state.account(reader) else { return .denied("no account \(reader)") }
        if account.role == .operator { return .operator }
        // Grants of (sensor, reader) sorted by window start; any with from ≤ t < to allows.
        var found: String?
        let prefix = MarketKeys.grantPrefix(sensor: id, buyer: reader).bytes
        try txn.scan(tables.grants, prefix: prefix) { key, value in
            guard let from = StoreKey.readU64(key, at: prefix.count), from <= UInt64(time.seconds) else { return false }
            if let to = StoreKey.readU64(value), UInt64(time.seconds) < to {
                found = String(decoding: value.dropFirst(8), as: UTF8.self)
                return false
            }
            return true
        }
        if let found { return .purchased(purchaseID: found) }
        return .denied("\(reader) has no purchase of sensor \(id) covering \(time)")
    }
}
