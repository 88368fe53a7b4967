public import AgoraCore
internal import AgoraStore

/// Row of `accounts` (key: bare JID). The balance lives in `balances` (see `Tables`).
public struct AccountRecord: Hashable, Sendable, Codable {
    public var jid: BareJID
    public var role: Role
    public var opened: Timestamp
}

/// Row of `sensors` (key: sensor id): the registration plus its current status.
public struct SensorRecord: Hashable, Sendable, Codable {
    public var registration: LedgerEntry.SensorRegistration
    /// Dense number given at registration; keys the `readings` table (u32 BE) compactly.
    public var index: UInt32
    public var frozen: Bool
    public var frozenReason: String
    public var registered: Timestamp
    public var id: SensorID { registration.sensor }
    public var owner: BareJID { registration.owner }
}

/// Row of `purchases` (key: purchase id), stored as the entry's ledger index (u64 BE)
/// followed by the entry's exact bytes: the row is the ledger's own record of the
/// purchase, and writing it costs no second encoding.
public struct PurchaseRecord: Hashable, Sendable {
    public var purchase: LedgerEntry.Purchase
    /// Index of the `purchase` ledger entry.
    public var ledgerIndex: UInt64

    public init(purchase: LedgerEntry.Purchase, ledgerIndex: UInt64) {
        self.purchase = purchase
        self.ledgerIndex = ledgerIndex
    }

    static func row(index: UInt64, entry: [UInt8]) -> [UInt8] { StoreKey.u64(index) + entry }

    init(row: [UInt8]) throws {
        guard let index = StoreKey.readU64(row), case .purchase(let purchase) = try LedgerEntry(decoding: row.dropFirst(8)).body else {
            throw StoreError.corrupted("a row of purchases is not a purchase entry")
        }
        self.init(purchase: purchase, ledgerIndex: index)
    }
}

/// Row of `certs` (key: serial, lower-case hex): the issued certificate and its status.
public struct CertificateRecord: Hashable, Sendable, Codable {
    public var issue: LedgerEntry.CertificateIssue
    public var issued: Timestamp
    /// Index of the `cert.issue` ledger entry.
    public var ledgerIndex: UInt64
    public var revoked: Bool
    public var revocationReason: String
    public var revokedAt: Timestamp?
}

/// Key layouts and value codecs of the market's tables, in one place.
enum MarketKeys {
    static func account(_ jid: BareJID) -> [UInt8] { StoreKey.text(jid.description) }
    static func sensor(_ id: SensorID) -> [UInt8] { StoreKey.text(id.rawValue) }
    static func purchase(_ id: String) -> [UInt8] { StoreKey.text(id) }
    static func certificate(_ serial: String) -> [UInt8] { StoreKey.text(serial) }

    /// `grants`: sensor ‖ 0 ‖ buyer ‖ 0 ‖ from (u64 BE) ‖ purchase id → to (u64 BE) ‖ purchase id.
    /// The purchase id keeps two purchases that start at the same second apart.
    static func grant(sensor: SensorID, buyer: BareJID, from: Timestamp, purchase: String) -> [UInt8] {
        var key = grantPrefix(sensor: sensor, buyer: buyer)
        key.append(UInt64(from.seconds))
        return key.bytes + Array(purchase.utf8)
    }

    static func grantPrefix(sensor: SensorID, buyer: BareJID) -> StoreKey {
        var key = StoreKey()
        key.append(text: sensor.rawValue)
        key.append(text: buyer.description)
        return key
    }

    /// Derived counters kept in `meta`; replay rebuilds and compares them.
    static let minted = StoreKey.text("market.minted")
    static let nextSensorIndex = StoreKey.text("sensors.next_index")
    static let derivedMeta = [minted, nextSensorIndex]
    /// Certificate issues and revocations applied so far: a cheap signal that what is derived
    /// from `certs` (which sensors are revoked) may have changed, for readers that cache it.
    /// Not in `derivedMeta`: stores from before it existed lack it, and nothing is decided by
    /// its value.
    static let certificateChanges = StoreKey.text("certs.changes")

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] { try CanonicalJSON.encode(value) }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], table: String) throws -> T {
        do { return try CanonicalJSON.decode(type, from: bytes) } catch {
            throw StoreError.corrupted("a row of \(table) cannot be read: \(CanonicalJSON.summary(of: error))")
        }
    }

    static func u64(_ bytes: [UInt8]?) -> UInt64 { bytes.flatMap { StoreKey.readU64($0) } ?? 0 }
}
