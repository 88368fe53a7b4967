public import AgoraCore
public import AgoraMarket

/// Measures every sensor's delivery (`DeliveryFigures`, over the hour, the day and 30 days)
/// and seals the figures on the ledger as `reliability` entries: the gateway's R′, which
/// scores read back and a buyer can prove later. Frozen sensors and sensors without a
/// declared frequency are skipped (nothing to measure against).
public struct ReliabilitySealer: Sendable {
    let market: Market
    let ranges: KindRanges

    public init(market: Market, ranges: KindRanges = .defaults) {
        self.market = market
        self.ranges = ranges
    }

    /// The entry `seal` would write for `sensor` at `now` (seconds), read in one transaction;
    /// nil when the sensor cannot be measured (`DeliveryFigures.isMeasurable`).
    public func measure(_ sensor: SensorRecord, now: Int64) throws -> LedgerEntry.Reliability? {
        guard DeliveryFigures.isMeasurable(sensor, now: now) else { return nil }
        let tables = market.store.tables, ledger = market.ledger
        let figures = try market.store.read { txn in
            try DeliveryFigures.windows.map { window in
                try DeliveryFigures.measure(sensor: sensor, window: window, now: now, ranges: ranges, arrival: { commit in
                    guard let bytes = try? ledger.entry(at: commit, in: txn) else { return nil }
                    return try LedgerEntry(decoding: bytes).time.seconds
                }, tables: tables, in: txn)
            }
        }
        let day = figures[1]
        return LedgerEntry.Reliability(sensor: sensor.id, until: try Timestamp(seconds: now),
                                       reliability: Int((day.reliability * 1000).rounded()), windows: figures.map(\.row))
    }

    /// Measures and seals every sensor that can be measured. A sensor that fails is skipped
    /// (and named in `failed`), so one bad sensor does not stop the round.
    @discardableResult
    public func sealAll(now: Int64) async throws -> (sealed: Int, failed: [(SensorID, any Error)]) {
        let sensors = try market.read { try $0.sensors() }
        var sealed = 0
        var failed: [(SensorID, any Error)] = []
        for sensor in sensors {
            do {
                guard let entry = try measure(sensor, now: now) else { continue }
                _ = try await market.sealReliability(entry)
                sealed += 1
            } catch {
                failed.append((sensor.id, error))
            }
        }
        return (sealed, failed)
    }
}
