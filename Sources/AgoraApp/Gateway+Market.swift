public import AgoraCore
public import AgoraLedger
public import AgoraMarket
public import AgoraReadings

/// Market and readings use cases that need the store or the ledger besides the market.
extension Gateway {
    /// An operator's sale on `buyer`'s behalf (`Market.purchase`), with its receipt: the
    /// purchase's own commit seals the checkpoint the receipt is checked against.
    public func purchase(buyer: BareJID, sensor: SensorID, from: Timestamp, to: Timestamp, requestID: String?,
                         maxCredits: Credits?) async throws -> (result: Market.PurchaseResult, receipt: Receipt) {
        let result = try await market.purchase(buyer: buyer, sensor: sensor, from: from, to: to, requestID: requestID,
                                               maxCredits: maxCredits, actor: .operator, sealing: true)
        return (result, try await ledger.sealedReceipt(for: result.record.ledgerIndex, through: store))
    }

    /// A sensor's stored readings in `[from, to)` (ns), canonical records in time order.
    public func readings(of sensor: SensorID, from: Int64, to: Int64) throws -> [[UInt8]] {
        try ReadingsQuery(store: store, ledger: ledger).records(of: sensor, from: from, to: to)
    }

    /// A reading with its path in its batch and the receipt of the batch's `readings.commit`,
    /// against a checkpoint sealed over every entry written.
    public func proveReading(of sensor: SensorID, at time: Int64) async throws -> ReadingsQuery.Proof {
        try await ledger.sealCheckpoint(through: store)
        return try ReadingsQuery(store: store, ledger: ledger).prove(sensor: sensor, time: time)
    }

    /// Stores readings of one sensor as if they had arrived over MQTT (operator backfill).
    public func ingest(_ readings: [Reading], of sensor: SensorID) async throws -> ReadingsCommitter.Outcome? {
        try await ReadingsCommitter(store: store, ledger: ledger).commit([sensor: readings])[sensor]
    }
}
