/// M-Sec's dependability of a service for one viewer: D = a·T + b·R + c·R′ + d·P, the
/// viewer's trust T, the service's reputation R among everyone else, its reliability R′ (an
/// absolute measure of how it performed) and its popularity P, each in [0, 1] except T and
/// R, which are μ − σ and so may fall below 0 for a service rated both well and badly.
public struct Dependability: Hashable, Sendable {
    public var trust: Double
    public var reputation: Double
    public var reliability: Double
    public var popularity: Double
    /// The weights actually applied (after `DependabilityWeights.adapted`).
    public var weights: DependabilityWeights

    public init(trust: Double, reputation: Double, reliability: Double, popularity: Double, weights: DependabilityWeights) {
        self.trust = trust
        self.reputation = reputation
        self.reliability = reliability
        self.popularity = popularity
        self.weights = weights
    }

    /// D.
    public var value: Double {
        weights.trust * trust + weights.reputation * reputation + weights.reliability * reliability + weights.popularity * popularity
    }
}
