public import AgoraCore
public import AgoraTrust
internal import AgoraStore
internal import Synchronization

/// Keeps, per sensor, what its scores are computed from apart from the viewer (its
/// ratings, the raters' maturity, its purchases and reliability) and the reputation a
/// viewer who never rated it sees, so a search that scores every sensor reads one counter
/// per sensor instead of every rating (issue 23's goal: 10^3 sensors in under 5 ms).
///
/// An entry is used while the sensor's trust generation (`MarketKeys.trustGeneration`, which
/// the projection bumps on every purchase, rating and reliability entry of the sensor) is
/// the one it was built at, and for at most `maxAge` seconds, since raters mature and
/// ratings fade with time. One cache per `Market`, so per store.
public final class TrustScoreCache: Sendable {
    struct Entry: Sendable {
        let generation: UInt64
        let built: Int64
        let policy: TrustPolicy
        let basis: ScoringBasis
        /// The scores for a viewer with no rating of the sensor (their T is empty, so only
        /// the weights' adaptation, which is the same for all of them, applies).
        let stranger: ServiceScores
    }

    private let entries = Mutex<[SensorID: Entry]>([:])
    let maxAge: Int64
    let limit: Int

    public init(maxAge: Int64 = 60, limit: Int = 100_000) {
        self.maxAge = maxAge
        self.limit = limit
    }

    func scores(of sensor: SensorID, generation: UInt64, viewer: String, weights: DependabilityWeights?, now: Int64,
                policy: TrustPolicy, build: () throws -> ScoringBasis) throws -> ServiceScores {
        let cached = entries.withLock { $0[sensor] }
        let entry: Entry
        if let cached, cached.generation == generation, cached.policy == policy, now - cached.built < maxAge, now >= cached.built {
            entry = cached
        } else {
            let basis = try build()
            entry = Entry(generation: generation, built: now, policy: policy, basis: basis,
                          stranger: basis.scores(for: "", policy: policy, weights: nil, now: now))
            entries.withLock { cache in
                if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
                cache[sensor] = entry
            }
        }
        guard weights == nil, !entry.basis.isRater(viewer) else {
            return entry.basis.scores(for: viewer, policy: policy, weights: weights, now: now)
        }
        return entry.stranger
    }
}

extension MarketKeys {
    /// `meta`: per sensor, a counter of the entries that change its scores (purchases,
    /// ratings, reliability). Not a derived counter replay compares: stores from before it
    /// existed lack it, and nothing is decided by its value, only by its changing.
    static func trustGeneration(_ sensor: SensorID) -> [UInt8] {
        var key = StoreKey()
        key.append(text: "trust.generation")
        return key.bytes + Array(sensor.rawValue.utf8)
    }
}

extension MarketState {
    /// Changes with every purchase, rating and reliability entry of `sensor`: what caches of
    /// its scores and of its buyers' windows (live delivery) are checked against.
    public func trustGeneration(of sensor: SensorID) throws -> UInt64 {
        MarketKeys.u64(try txn.get(tables.meta, MarketKeys.trustGeneration(sensor)))
    }
}

extension Projection {
    /// Bumps `sensor`'s trust generation (see `TrustScoreCache`).
    func touchTrust(of sensor: SensorID, in txn: WriteTransaction) throws {
        let key = MarketKeys.trustGeneration(sensor)
        try txn.put(tables.meta, key, StoreKey.u64(MarketKeys.u64(try txn.get(tables.meta, key)) &+ 1))
    }
}
