public import AgoraCore
public import AgoraTrust

/// What the trust model says of one service (a sensor, or an owner's sensors together) to
/// one viewer: M-Sec's T, R, R′, P and D with what they were computed from.
public struct ServiceScores: Hashable, Sendable {
    /// T: from the viewer's own ratings of the service.
    public var trust: TrustFigures
    /// R: from everyone else's (each rater's newest few, weighted by the rater's maturity).
    public var reputation: TrustFigures
    /// R′: the gateway's own measure of the service, nil until it has one (counted as 0 in D).
    public var reliability: Double?
    /// P, and the purchases it counts.
    public var popularity: Double
    public var purchases: Int
    /// Ratings in force of the service, by anyone.
    public var ratings: Int
    public var dependability: Dependability
    /// Fewer ratings than the policy's newcomer threshold.
    public var newcomer: Bool
    /// Rated often enough, and badly enough, to be left out of searches.
    public var blacklisted: Bool
}

extension MarketState {
    /// The scores of `sensor` for `viewer`: reads the sensor's ratings (one prefix scan of
    /// `ratings`, no ledger scan) and its purchase count, and evaluates the model.
    /// R′ is the sensor's newest sealed reliability.
    public func scores(ofSensor sensor: SensorID, for viewer: BareJID, policy: TrustPolicy,
                       weights: DependabilityWeights? = nil, now: Timestamp) throws -> ServiceScores {
        try scores(ratings(ofSensor: sensor), purchases: purchaseCount(of: sensor), viewer: viewer, policy: policy,
                   weights: weights, reliability: sealedReliability(of: sensor)?.value, now: now)
    }

    /// The scores of everything `owner` sells, for `viewer`: its ratings as a seller, the
    /// purchases of the sensors it owns now, and the mean sealed reliability of those.
    public func scores(ofOwner owner: BareJID, for viewer: BareJID, policy: TrustPolicy,
                       weights: DependabilityWeights? = nil, now: Timestamp) throws -> ServiceScores {
        let owned = try sensors().filter { $0.owner == owner }
        let purchases = try owned.reduce(0) { $0 + (try purchaseCount(of: $1.id)) }
        let sealed = try owned.compactMap { try sealedReliability(of: $0.id)?.value }
        let reliability = sealed.isEmpty ? nil : sealed.reduce(0, +) / Double(sealed.count)
        return try scores(ratings(ofOwner: owner), purchases: purchases, viewer: viewer, policy: policy,
                          weights: weights, reliability: reliability, now: now)
    }

    private func scores(_ ratings: [RatingRecord], purchases: Int, viewer: BareJID, policy: TrustPolicy,
                        weights: DependabilityWeights?, reliability: Double?, now: Timestamp) throws -> ServiceScores {
        func interaction(_ r: RatingRecord, weight: Double) -> Interaction {
            Interaction(satisfaction: Double(r.satisfaction) / 1000, weight: weight, time: r.firstRated)
        }
        let own = ratings.filter { $0.rater == viewer }.map { interaction($0, weight: Double($0.weight)) }
        // Everyone else's, newest `ratingsPerRaterInReputation` per rater, each weighted by
        // its rater's maturity: n sock puppets opened yesterday weigh n × 1/30 of one
        // month-old account's single rating, however many purchases they make.
        var perRater: [BareJID: Int] = [:]
        var maturity: [BareJID: Double] = [:]
        var others: [Interaction] = []
        for rating in ratings.reversed() where rating.rater != viewer {
            let seen = perRater[rating.rater, default: 0]
            guard seen < policy.ratingsPerRaterInReputation else { continue }
            perRater[rating.rater] = seen + 1
            let factor = try maturity[rating.rater] ?? {
                let opened = try account(rating.rater)?.opened.seconds ?? now.seconds
                let value = policy.raterMaturity > 0 ? min(1, Double(max(0, now.seconds - opened)) / Double(policy.raterMaturity)) : 1
                maturity[rating.rater] = value
                return value
            }()
            guard factor > 0 else { continue }
            others.append(interaction(rating, weight: Double(rating.weight) * factor))
        }
        others.reverse()
        let trust = TrustFigures(own, fading: policy.fading, now: now.seconds)
        let reputation = TrustFigures(others, fading: policy.fading, now: now.seconds)
        let popularity = Popularity.of(requests: purchases, halfAt: policy.popularityHalfAt)
        let applied = (weights ?? policy.weights).adapted(ownInteractions: trust.count, fullTrustAfter: policy.fullTrustAfter)
        let dependability = Dependability(trust: trust.value, reputation: reputation.value, reliability: reliability ?? 0,
                                          popularity: popularity, weights: applied)
        return ServiceScores(trust: trust, reputation: reputation, reliability: reliability, popularity: popularity,
                             purchases: purchases, ratings: ratings.count, dependability: dependability,
                             newcomer: ratings.count < policy.newcomerBelowRatings,
                             blacklisted: policy.blacklistAfterRatings > 0 && ratings.count >= policy.blacklistAfterRatings
                                 && reputation.value < policy.blacklistBelow)
    }
}
