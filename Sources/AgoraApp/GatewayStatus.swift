internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraStore

/// A snapshot of the gateway for `agora status`: identity, ledger, market and store use.
public struct GatewayStatus: Sendable, Codable {
    public var origin: String
    public var name: String
    public var logKey: String
    public var ledgerEntries: UInt64
    public var checkpointSize: UInt64
    public var accounts: Int
    public var sensors: Int
    public var frozenSensors: Int
    public var purchases: Int
    /// Readings held in the readings table.
    public var readings: Int
    public var totalMinted: UInt64
    public var sumOfBalances: UInt64
    public var mapSize: Int
    /// The ceiling the map may grow to (`store.max_map_size`).
    public var maxMapSize: Int
    public var usedBytes: Int
    /// What an operator should look at; empty when the gateway is healthy. These are the
    /// cheap checks (`agora ledger verify --replay` is the thorough one): the balances add up
    /// to what was minted, and the store has room left to grow. A checkpoint that lags the
    /// ledger is not one: a running gateway signs one at most every `checkpoint_interval`.
    public var problems: [String] = []
    /// What the last `agora serve` counted when it stopped (nil: no run has stopped cleanly).
    public var lastRun: LastRun?
    /// The running server's own counters, asked of it over its HTTP listener (nil: none
    /// answered; `liveUnavailable` says why).
    public var live: LiveStatus?
    public var liveUnavailable: String?

    public init(gateway: Gateway) throws {
        let tables = gateway.store.tables
        let ledger = gateway.ledger
        let name = try gateway.name()
        self = try gateway.store.read { txn in
            let state = MarketState(tables: tables, txn: txn)
            let lastRun = try LastRun.read(in: txn, tables: tables)
            let sensors = try state.sensors()
            let genesis = try LedgerEntry(decoding: ledger.entry(at: 0, in: txn))
            var logKey = ""
            if case .genesis(let g) = genesis.body { logKey = g.logKey }
            return GatewayStatus(
                origin: ledger.origin, name: name, logKey: logKey,
                ledgerEntries: try ledger.size(in: txn),
                checkpointSize: try ledger.latestCheckpoint(in: txn)?.size ?? 0,
                accounts: try txn.count(tables.accounts), sensors: sensors.count,
                frozenSensors: sensors.filter(\.frozen).count,
                purchases: try txn.count(tables.purchases), readings: try txn.count(tables.readings),
                totalMinted: try state.totalMinted().value, sumOfBalances: try state.sumOfBalances(),
                mapSize: gateway.store.environment.currentMapSize,
                maxMapSize: gateway.store.environment.maxMapSize, usedBytes: gateway.store.environment.usedBytes, lastRun: lastRun)
        }
    }

    init(origin: String, name: String, logKey: String, ledgerEntries: UInt64, checkpointSize: UInt64, accounts: Int,
         sensors: Int, frozenSensors: Int, purchases: Int, readings: Int, totalMinted: UInt64, sumOfBalances: UInt64, mapSize: Int, maxMapSize: Int, usedBytes: Int, lastRun: LastRun?) {
        self.lastRun = lastRun
        self.origin = origin; self.name = name; self.logKey = logKey; self.ledgerEntries = ledgerEntries
        self.checkpointSize = checkpointSize; self.accounts = accounts; self.sensors = sensors
        self.frozenSensors = frozenSensors; self.purchases = purchases; self.readings = readings; self.totalMinted = totalMinted
        self.sumOfBalances = sumOfBalances; self.mapSize = mapSize; self.maxMapSize = maxMapSize; self.usedBytes = usedBytes
        if sumOfBalances != totalMinted {
            problems.append("balances add up to \(sumOfBalances) credits but \(totalMinted) were minted")
        }
        if usedBytes > maxMapSize / 10 * 9 {
            problems.append("the store uses over 90% of the \(maxMapSize / 1_048_576) MiB it may grow to (raise store.max_map_size)")
        }
    }
}
