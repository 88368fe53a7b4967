/// How the publish-subscribe service of live readings behaves (`[live]` in the configuration).
public struct LiveConfiguration: Sendable, Equatable {
    /// Whether `agora serve` runs the service (it needs XMPP).
    public var enabled: Bool
    /// Its address; empty: `pubsub.<domain>`.
    public var address: String
    /// Items kept per account while it has no available resource; beyond, the oldest go.
    public var offlineItems: Int
    /// Items waiting per session while its connection does not keep up; beyond, the oldest
    /// go and the session is sent a gap marker.
    public var queueItems: Int
    /// Subscriptions one account may hold (a quota: each is stored and fanned out to).
    public var maxSubscriptions: Int

    public init(enabled: Bool = true, address: String = "", offlineItems: Int = 1000, queueItems: Int = 256, maxSubscriptions: Int = 100) {
        self.enabled = enabled
        self.address = address
        self.offlineItems = offlineItems
        self.queueItems = queueItems
        self.maxSubscriptions = maxSubscriptions
    }

    /// The service's address for `domain`.
    public func address(for domain: String) -> String { address.isEmpty ? "pubsub." + domain : address }
}
