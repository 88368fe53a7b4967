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
                            reliability: reliability, policy: policy).scores(for: viewer.description, policy: policy, weights: weights, now: now.seconds)
    }

    func basis(ofSensor sensor: SensorID, policy: TrustPolicy, now: Int64) throws -> ScoringBasis {
        let rows = try scoringRows(prefix: MarketKeys.ratingPrefix(sensor: sensor))
        return ScoringBasis(rows: rows, maturity: try maturity(of: rows, policy: policy, now: now), purchases: try purchaseCount(of: sensor),
                            reliability: try sealedReliability(of: sensor)?.value, policy: policy)
    }

    private func scoringRows(prefix: [UInt8]) throws -> [ScoringRow] {
        var rows: [ScoringRow] = []
        try txn.scan(tables.ratings, prefix: prefix) { _, value in
            let fields = try RatingRecord.fields(of: value)
            rows.append(ScoringRow(rater: fields.rater, satisfaction: fields.satisfaction, weight: fields.weight, firstRated: fields.firstRated))
            return true
        }
        return rows
    }

    private func maturity(of rows: [ScoringRow], policy: TrustPolicy, now: Int64) throws -> [String: Double] {
        var maturity: [String: Double] = [:]
        for rater in Set(rows.map(\.rater)) {
            guard policy.raterMaturity > 0 else { maturity[rater] = 1; continue }
            let opened = try txn.get(tables.accounts, StoreKey.text(rater)).map { bytes in
                try Self.accountCache.value(for: bytes) { try MarketKeys.decode(AccountRecord.self, $0, table: "accounts") }.opened.seconds
            } ?? now
            maturity[rater] = min(1, Double(max(0, now - opened)) / Double(policy.raterMaturity))
        }
        return maturity
    }
}
