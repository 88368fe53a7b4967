public import AgoraLedger
public import AgoraMarket
public import AgoraStore
public import Logging

/// What every application namespace works with: the market (its rules and tables), the
/// store and its ledger. Built once by the composition root (AgoraApp) and shared by all
/// handlers; every member is thread-safe.
public struct IQContext: Sendable {
    public let market: Market
    public let store: Store
    public let ledger: Ledger
    public let logger: Logger
    /// What each account may make the gateway store (ledger entries, certificates).
    public let quotas: AccountQuotas
    /// How ratings are made and services scored (`[trust]`).
    public let trust: TrustPolicy
    /// The XEP-0347 registry this gateway keeps for others (nil: it keeps none); its things
    /// are answered by `search` beside the gateway's own.
    public let registry: ThingRegistry?

    public init(market: Market, store: Store, ledger: Ledger, logger: Logger, quotas: AccountQuotas = AccountQuotas(),
                trust: TrustPolicy = TrustPolicy(), registry: ThingRegistry? = nil) {
        self.registry = registry
        self.market = market
        self.store = store
        self.ledger = ledger
        self.logger = logger
        self.quotas = quotas
        self.trust = trust
    }
}
