public import AgoraTrust

/// The gateway's settings of the trust and reputation model (`[trust]` in agora.toml): how
/// ratings are made, and how scores are computed from them.
public struct TrustPolicy: Hashable, Sendable {
    /// Weights a rater may give, 1 … `maxWeight` ("a small configured scale").
    public var maxWeight: Int
    /// How long after its first rating a purchase may be revised (once), in seconds.
    public var revisionPeriod: Int64
    public var fading: Fading
    /// D's default weights; a request may bring its own.
    public var weights: DependabilityWeights
    /// Own ratings a viewer needs before its trust T gets all of its weight a (see
    /// `DependabilityWeights.adapted`).
    public var fullTrustAfter: Int
    /// Purchases at which popularity P is 0.5.
    public var popularityHalfAt: Int
    /// Sock puppets: a rater's weight in reputation grows with its account's age, from 0 at
    /// opening to full after this many seconds, so accounts opened to farm ratings count for little.
    public var raterMaturity: Int64
    /// At most this many of one rater's ratings count in a service's reputation (its newest).
    public var ratingsPerRaterInReputation: Int
    /// Services with fewer ratings than this are newcomers; this share of a sorted search's
    /// first places goes to them, so they can earn a reputation.
    public var newcomerBelowRatings: Int
    public var newcomerShare: Double
    /// A service rated by at least `blacklistAfterRatings` different accounts whose
    /// reputation over all of them is below `blacklistBelow` is left out of searches.
    public var blacklistBelow: Double
    public var blacklistAfterRatings: Int

    public static let maxCommentBytes = 280

    public init(maxWeight: Int = 5, revisionPeriod: Int64 = 7 * 86_400, fading: Fading = .lastN(50),
                weights: DependabilityWeights = .defaults, fullTrustAfter: Int = 5, popularityHalfAt: Int = 10,
                raterMaturity: Int64 = 30 * 86_400, ratingsPerRaterInReputation: Int = 3,
                newcomerBelowRatings: Int = 3, newcomerShare: Double = 0.1,
                blacklistBelow: Double = 0.2, blacklistAfterRatings: Int = 5) {
        self.maxWeight = maxWeight
        self.revisionPeriod = revisionPeriod
        self.fading = fading
        self.weights = weights
        self.fullTrustAfter = fullTrustAfter
        self.popularityHalfAt = popularityHalfAt
        self.raterMaturity = raterMaturity
        self.ratingsPerRaterInReputation = ratingsPerRaterInReputation
        self.newcomerBelowRatings = newcomerBelowRatings
        self.newcomerShare = newcomerShare
        self.blacklistBelow = blacklistBelow
        self.blacklistAfterRatings = blacklistAfterRatings
    }
}

extension DependabilityWeights {
    /// a = b = c = 0.3, d = 0.1: trust, reputation and the gateway's own measure alike,
    /// popularity a tie-breaker.
    public static let defaults = try! DependabilityWeights(trust: 0.3, reputation: 0.3, reliability: 0.3, popularity: 0.1)
}
