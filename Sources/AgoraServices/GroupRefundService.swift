public import AgoraMarket
public import Logging
public import ServiceLifecycle

/// `agora serve`'s sweep of group purchases: every few seconds, each open group whose
/// deadline has passed is refunded (`group.refund`), so a member's credits never stay in
/// escrow for a purchase that will not happen. A sweep that finds nothing only reads.
public struct GroupRefundService: Service {
    let market: Market
    let interval: Duration
    let logger: Logger

    public init(market: Market, interval: Duration = .seconds(2), logger: Logger) {
        self.market = market
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let refunded = try await market.refundExpiredGroups()
                for id in refunded { logger.notice("group purchase refunded: its deadline passed before every share was paid", metadata: ["group.id": "\(id)"]) }
            } catch {
                logger.error("refunding expired group purchases failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
