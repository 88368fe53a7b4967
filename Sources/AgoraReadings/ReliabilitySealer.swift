public import AgoraCore
public import AgoraMarket
public import Logging
public import ServiceLifecycle

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

    /// The entry `seal` would write for `sensor` at `now` (seconds), read in one transaction.
    public func measure(_ sensor: SensorRecord, now: Int64) throws -> LedgerEntry.Reliability {
        let tables = market.store.tables
        let figures = try market.store.read { txn in
            try DeliveryFigures.windows.map { window in
                try DeliveryFigures.measure(sensor: sensor, window: window, now: now, ranges: ranges, tables: tables, in: txn)
            }
        }
        let day = figures[1]
        return LedgerEntry.Reliability(
            sensor: sensor.id, until: try Timestamp(seconds: now), reliability: Int((day.reliability * 1000).rounded()),
            windows: figures.map { f in
                [f.window, Int64(f.expected), Int64(f.delivered), Int64(f.gaps), f.longestGap, f.gapSeconds, Int64(f.checked), Int64(f.outOfRange)]
            })
    }

    /// Measures and seals every sensor that can be measured; returns how many were sealed.
    @discardableResult
    public func sealAll(now: Int64) async throws -> Int {
        let sensors = try market.read { try $0.sensors() }.filter { !$0.frozen && $0.registration.frequency > 0 }
        for sensor in sensors { _ = try await market.sealReliability(try measure(sensor, now: now)) }
        return sensors.count
    }
}

/// `agora serve`'s periodic sealing of reliability (`[trust] reliability_interval_s`).
public struct ReliabilityService: Service {
    let sealer: ReliabilitySealer
    let interval: Duration
    let logger: Logger

    public init(sealer: ReliabilitySealer, interval: Duration, logger: Logger) {
        self.sealer = sealer
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // First seal one interval after start: a restart does not write a fresh round.
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            do {
                let sealed = try await sealer.sealAll(now: Timestamp.now().seconds)
                logger.info("sensor reliability sealed on the ledger", metadata: ["trust.sensors": "\(sealed)"])
            } catch {
                logger.error("sealing sensor reliability failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
