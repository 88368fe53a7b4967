public import AgoraCore
public import AgoraStore

/// Reads of the market's tables inside one transaction: the facts every rule checks.
public struct MarketState {
    let tables: Tables
    let txn: ReadTransaction

    public init(tables: Tables, txn: ReadTransaction) {
        self.tables = tables
        self.txn = txn
    }

    public func account(_ jid: BareJID) throws -> AccountRecord? {
        try txn.get(tables.accounts, MarketKeys.account(jid)).map { bytes in
            try Self.accountCache.value(for: bytes) { try MarketKeys.decode(AccountRecord.self, $0, table: "accounts") }
        }
    }

    /// Whether the account exists, without decoding it (the XMPP server asks on every login).
    public func hasAccount(_ jid: BareJID) throws -> Bool {
        try txn.contains(tables.accounts, MarketKeys.account(jid))
    }

    public func balance(_ jid: BareJID) throws -> Credits {
        try Credits(MarketKeys.u64(try txn.get(tables.balances, MarketKeys.account(jid))))
    }

    public func sensor(_ id: SensorID) throws -> SensorRecord? {
        try txn.get(tables.sensors, MarketKeys.sensor(id)).map { bytes in
            try Self.sensorCache.value(for: bytes) { try MarketKeys.decode(SensorRecord.self, $0, table: "sensors") }
        }
    }

    static let accountCache = DecodedRowCache<AccountRecord>(limit: 4096)
    static let sensorCache = DecodedRowCache<SensorRecord>(limit: 4096)

    /// How many purchases of `sensor` were ever made (its popularity's n), from the grants index.
    /// Purchases of `sensor`: its grants, a group purchase (one grant per member, one
    /// purchase id) counted once, so a group of puppets is not twenty purchases for one price.
    public func purchaseCount(of sensor: SensorID) throws -> Int {
        var key = StoreKey()
        key.append(text: sensor.rawValue)
        var purchases = Set<[UInt8]>()
        try txn.scan(tables.grants, prefix: key.bytes) { _, value in purchases.insert(Array(value.dropFirst(8))); return true }
        return purchases.count
    }

    public func purchase(_ id: String) throws -> PurchaseRecord? {
        try txn.get(tables.purchases, MarketKeys.purchase(id)).map { try PurchaseRecord(row: $0) }
    }

    /// `buyer`'s purchases in purchase-id order after `after` (at most `limit`), and how many
    /// there are in all. A scan of every purchase: there is no per-buyer index yet.
    public func purchases(of buyer: BareJID, after: String?, limit: Int) throws -> (page: [PurchaseRecord], total: Int) {
        var page: [PurchaseRecord] = []
        var total = 0
        try txn.scan(tables.purchases) { _, value in
            let record = try PurchaseRecord(row: Array(value))
            guard record.purchase.buyer == buyer else { return true }
            total += 1
            if page.count < limit, after.map({ record.purchase.id > $0 }) ?? true { page.append(record) }
            return true
        }
        return (page, total)
    }

    public func certificate(_ serial: String) throws -> CertificateRecord? {
        try txn.get(tables.certs, MarketKeys.certificate(serial)).map { try MarketKeys.decode(CertificateRecord.self, $0, table: "certs") }
    }

    /// How many certificate issues and revocations the store has applied (changes with each).
    public var certificateChangeCount: UInt64 {
        get throws { StoreKey.readU64(try txn.get(tables.meta, MarketKeys.certificateChanges) ?? []) ?? 0 }
    }

    /// Sensors whose identity is revoked: each holds a revoked certificate and no certificate
    /// that is still good (unrevoked, not expired at `now`). A sensor re-paired after a
    /// revocation publishes again; until the broker reloads its CRL the holder of the revoked
    /// certificate could too — the gateway cannot tell the two apart, the broker can.
    public func revokedSensors(now: Timestamp) throws -> Set<SensorID> {
        var revoked: Set<SensorID> = [], good: Set<SensorID> = []
        for record in try certificates() where record.issue.subject.hasPrefix("sensor:") {
            guard let sensor = try? SensorID(String(record.issue.subject.dropFirst("sensor:".count))) else { continue }
            if record.revoked { revoked.insert(sensor) } else if record.issue.notAfter > now { good.insert(sensor) }
        }
        return revoked.subtracting(good)
    }

    public func certificates() throws -> [CertificateRecord] {
        var result: [CertificateRecord] = []
        try txn.scan(tables.certs) { _, value in
            result.append(try MarketKeys.decode(CertificateRecord.self, Array(value), table: "certs"))
            return true
        }
        return result
    }

    /// Total credits ever minted; always equals the sum of all balances.
    public func totalMinted() throws -> Credits {
        try Credits(MarketKeys.u64(try txn.get(tables.meta, MarketKeys.minted)))
    }

    public func accounts() throws -> [AccountRecord] {
        var result: [AccountRecord] = []
        try txn.scan(tables.accounts) { _, value in
            result.append(try MarketKeys.decode(AccountRecord.self, Array(value), table: "accounts"))
            return true
        }
        return result
    }

    /// The windows `[from, to)` (seconds) of `sensor` that `buyer` bought, in order of their
    /// start: one prefix scan of the grants table, as the access rule reads it.
    public func boughtWindows(of sensor: SensorID, by buyer: BareJID) throws -> [(from: UInt64, to: UInt64)] {
        var windows: [(UInt64, UInt64)] = []
        let prefix = MarketKeys.grantPrefix(sensor: sensor, buyer: buyer).bytes
        try txn.scan(tables.grants, prefix: prefix) { key, value in
            if let from = StoreKey.readU64(key, at: prefix.count), let to = StoreKey.readU64(value) { windows.append((from, to)) }
            return true
        }
        return windows
    }

    /// Every sensor, decoded through the row cache: `/metrics` and the dashboard list them all
    /// on every request, and JSON decoding was nearly all of a scrape's cost.
    public func sensors() throws -> [SensorRecord] {
        var result: [SensorRecord] = []
        try txn.scan(tables.sensors) { _, value in
            result.append(try Self.sensorCache.value(for: Array(value)) { try MarketKeys.decode(SensorRecord.self, $0, table: "sensors") })
            return true
        }
        return result
    }

    /// Sum of every balance (the invariant's left side), by a full scan.
    public func sumOfBalances() throws -> UInt64 {
        var sum: UInt64 = 0
        try txn.scan(tables.balances) { _, value in
            sum += StoreKey.readU64(value) ?? 0
            return true
        }
        return sum
    }

    /// Whether `actor` may do what only operators may: the CLI operator, or an operator account.
    public func isOperator(_ actor: LedgerActor) throws -> Bool {
        switch actor {
        case .operator: return true
        case .account(let jid): return try account(jid)?.role == .operator
        case .gateway, .sensor: return false
        }
    }
}
