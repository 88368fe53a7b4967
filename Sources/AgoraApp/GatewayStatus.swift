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
    public var usedBytes: Int

    public init(gateway: Gateway) throws {
        let tables = gateway.store.tables
        let ledger = gateway.ledger
        let name = try gateway.name()
        self = try gateway.store.read { txn in
            let state = MarketState(tables: tables, txn: txn)
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
                mapSize: gateway.store.environment.currentMapSize, usedBytes: gateway.store.environment.usedBytes)
        }
    }

    init(origin: String, name: String, logKey: String, ledgerEntries: UInt64, checkpointSize: UInt64, accounts: Int,
         sensors: Int, frozenSensors: Int, purchases: Int, readings: Int, totalMinted: UInt64, sumOfBalances: UInt64, mapSize: Int, usedBytes: Int) {
        self.origin = origin; self.name = name; self.logKey = logKey; self.ledgerEntries = ledgerEntries
        self.checkpointSize = checkpointSize; self.accounts = accounts; self.sensors = sensors
        self.frozenSensors = frozenSensors; self.purchases = purchases; self.readings = readings; self.totalMinted = totalMinted
        self.sumOfBalances = sumOfBalances; self.mapSize = mapSize; self.usedBytes = usedBytes
    }
}
