public import AgoraCore
public import AgoraTrust
internal import AgoraStore

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

/// A rating as scoring reads it: the figures and the rater's address as stored, without
/// validating the address again (every row was written from a checked `BareJID`).
struct ScoringRow: Sendable {
    let rater: String
    let satisfaction: Int
    let weight: Int
    let firstRated: Int64
}

/// Everything the scores of one service are computed from, viewer aside.
struct ScoringBasis: Sendable {
    /// Ratings in force, oldest first.
    let rows: [ScoringRow]
    /// Each rater's weight factor in reputation (account age / `raterMaturity`, at most 1).
    let maturity: [String: Double]
    let purchases: Int
    let reliability: Double?

    /// The scores for `viewer` at `now`.
    func scores(for viewer: String, policy: TrustPolicy, weights: DependabilityWeights?, now: Int64) -> ServiceScores {
        func interaction(_ r: ScoringRow, weight: Double) -> Interaction {
            Interaction(satisfaction: Double(r.satisfaction) / 1000, weight: weight, time: r.firstRated)
        }
        let own = rows.filter { $0.rater == viewer }.map { interaction($0, weight: Double($0.weight)) }
        // Everyone else's, newest `ratingsPerRaterInReputation` per rater, each weighted by
        // its rater's maturity: n sock puppets opened yesterday weigh n × 1/30 of one
        // month-old account's single rating, however many purchases they make.
        var perRater: [String: Int] = [:]
        var others: [Interaction] = []
        for rating in rows.reversed() where rating.rater != viewer {
            let seen = perRater[rating.rater, default: 0]
            guard seen < policy.ratingsPerRaterInReputation else { continue }
            perRater[rating.rater] = seen + 1
            let factor = maturity[rating.rater] ?? 0
            guard factor > 0 else { continue }
            others.append(interaction(rating, weight: Double(rating.weight) * factor))
        }
        others.reverse()
        let trust = TrustFigures(own, fading: policy.fading, now: now)
        let reputation = TrustFigures(others, fading: policy.fading, now: now)
        let popularity = Popularity.of(requests: purchases, halfAt: policy.popularityHalfAt)
        let applied = (weights ?? policy.weights).adapted(ownInteractions: trust.count, fullTrustAfter: policy.fullTrustAfter)
        let dependability = Dependability(trust: trust.value, reputation: reputation.value, reliability: reliability ?? 0,
                                          popularity: popularity, weights: applied)
        return ServiceScores(trust: trust, reputation: reputation, reliability: reliability, popularity: popularity,
                             purchases: purchases, ratings: rows.count, dependability: dependability,
                             newcomer: rows.count < policy.newcomerBelowRatings,
                             blacklisted: policy.blacklistAfterRatings > 0 && rows.count >= policy.blacklistAfterRatings
                                 && reputation.value < policy.blacklistBelow)
    }
}

extension MarketState {
    /// The scores of `sensor` for `viewer`: reads the sensor's ratings (one prefix scan of
    /// `ratings`, no ledger scan), its purchase count and its newest sealed reliability R′,
    /// and evaluates the model. With `cache`, what does not depend on the viewer is kept
    /// between calls until the sensor's ratings, purchases or reliability change.
    public func scores(ofSensor sensor: SensorID, for viewer: BareJID, policy: TrustPolicy,
                       weights: DependabilityWeights? = nil, now: Timestamp, cache: TrustScoreCache? = nil) throws -> ServiceScores {
        let viewer = viewer.description
        guard let cache else { return try basis(ofSensor: sensor, policy: policy, now: now.seconds).scores(for: viewer, policy: policy, weights: weights, now: now.seconds) }
        return try cache.scores(of: sensor, generation: trustGeneration(of: sensor), viewer: viewer, weights: weights, now: now.seconds,
                                policy: policy) { try basis(ofSensor: sensor, policy: policy, now: now.seconds) }
    }

    /// The scores of everything `owner` sells, for `viewer`: its ratings as a seller, the
    /// purchases of the sensors it owns now, and the mean sealed reliability of those.
    public func scores(ofOwner owner: BareJID, for viewer: BareJID, policy: TrustPolicy,
                       weights: DependabilityWeights? = nil, now: Timestamp) throws -> ServiceScores {
        let owned = try sensors().filter { $0.owner == owner }
        let purchases = try owned.reduce(0) { $0 + (try purchaseCount(of: $1.id)) }
        let sealed = try owned.compactMap { try sealedReliability(of: $0.id)?.value }
        let reliability = sealed.isEmpty ? nil : sealed.reduce(0, +) / Double(sealed.count)
        let rows = try scoringRows(prefix: MarketKeys.ratingPrefix(owner: owner))
        return ScoringBasis(rows: rows, maturity: try maturity(of: rows, policy: policy, now: now.seconds), purchases: purchases,
                            reliability: reliability).scores(for: viewer.description, policy: policy, weights: weights, now: now.seconds)
    }

    func basis(ofSensor sensor: SensorID, policy: TrustPolicy, now: Int64) throws -> ScoringBasis {
        let rows = try scoringRows(prefix: MarketKeys.ratingPrefix(sensor: sensor))
        return ScoringBasis(rows: rows, maturity: try maturity(of: rows, policy: policy, now: now), purchases: try purchaseCount(of: sensor),
                            reliability: try sealedReliability(of: sensor)?.value)
    }

    private func scoringRows(prefix: [UInt8]) throws -> [ScoringRow] {
        var rows: [ScoringRow] = []
        try txn.scan(tables.ratings, prefix: prefix) { _, value in
            guard value.count > 20, let first = StoreKey.readU64(value, at: 8) else { throw StoreError.corrupted("a row of ratings cannot be read") }
            rows.append(ScoringRow(rater: String(decoding: value[20...], as: UTF8.self), satisfaction: Int(value[16]) << 8 | Int(value[17]),
                                   weight: Int(value[18]), firstRated: Int64(bitPattern: first)))
            return true
        }
        return rows
    }

    private func maturity(of rows: [ScoringRow], policy: TrustPolicy, now: Int64) throws -> [String: Double] {
        var maturity: [String: Double] = [:]
        for rater in Set(rows.map(\.rater)) {
            guard policy.raterMaturity > 0 else { maturity[rater] = 1; continue }
            let opened = try txn.get(tables.accounts, Array(rater.utf8)).map { bytes in
                try Self.accountCache.value(for: bytes) { try MarketKeys.decode(AccountRecord.self, $0, table: "accounts") }.opened.seconds
            } ?? now
            maturity[rater] = min(1, Double(max(0, now - opened)) / Double(policy.raterMaturity))
        }
        return maturity
    }
}
