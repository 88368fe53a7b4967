public import AgoraCore
public import AgoraMarket
public import Logging
public import ServiceLifecycle

/// `agora serve`'s periodic sealing of reliability (`[trust] reliability_interval_s`).
///
/// A round is due one interval after the oldest of the measurable sensors' newest seals (or
/// registration, for a sensor never sealed), so a gateway restarted more often than the
/// interval still seals, and one restarted right after a round does not seal again.
public struct ReliabilityService: Service {
    let sealer: ReliabilitySealer
    let interval: Int64
    let logger: Logger

    public init(sealer: ReliabilitySealer, interval: Int64, logger: Logger) {
        self.sealer = sealer
        self.interval = interval
        self.logger = logger
    }

    /// When the next round is due (seconds).
    func nextRound(now: Int64) throws -> Int64 {
        let oldest = try sealer.market.read { state in
            try state.sensors().filter { DeliveryFigures.isMeasurable($0, now: now) }
                .map { try state.sealedReliability(of: $0.id)?.until ?? $0.registered.seconds }.min()
        }
        return (oldest ?? now) + interval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let now = Timestamp.now().seconds
            let due = (try? nextRound(now: now)) ?? now + interval
            if due > now {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(min(due - now, interval))) }
                continue
            }
            do {
                let (sealed, failed) = try await sealer.sealAll(now: now)
                logger.info("sensor reliability sealed on the ledger", metadata: ["trust.sensors": "\(sealed)"])
                for (sensor, error) in failed.prefix(10) {
                    logger.error("sealing a sensor's reliability failed", metadata: ["sensor.id": "\(sensor)", "error": "\(error)"])
                }
            } catch {
                logger.error("sealing sensor reliability failed", metadata: ["error": "\(error)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(min(interval, 3600))) }
            }
        }
    }
}
