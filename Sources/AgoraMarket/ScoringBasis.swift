internal import AgoraTrust

/// A rating as scoring reads it: the figures and the rater's address as stored, without
/// validating the address again (every row was written from a checked `BareJID`).
struct ScoringRow: Sendable {
    let rater: String
    let satisfaction: Int
    let weight: Int
    let firstRated: Int64
}

/// Everything the scores of one service are computed from, viewer aside, prepared once so
/// each viewer's scores cost a pass over at most a few hundred numbers (a search scores
/// every sensor for one viewer).
struct ScoringBasis: Sendable {
    /// Ratings in force, oldest first.
    let rows: [ScoringRow]
    let purchases: Int
    let reliability: Double?
    /// Raters numbered, and each row's rater by number.
    private let raterNumbers: [String: Int]
    private let rowRaters: [Int]
    /// What reputation reads, oldest first: each rater's newest `ratingsPerRaterInReputation`
    /// ratings, weighted by the rater's maturity (account age / `raterMaturity`, at most 1):
    /// n sock puppets opened yesterday weigh n × 1/30 of one month-old account's rating,
    /// however many purchases they make. A viewer's own are taken out when it asks, which
    /// changes no other rater's newest few.
    private let reputationLog: [(rater: Int, interaction: Interaction)]
    /// Distinct raters whose ratings weigh anything: blacklisting needs this many different
    /// accounts, so one account cannot sink a sensor with a string of bad ratings.
    private let weighedRaters: Int

    init(rows: [ScoringRow], maturity: [String: Double], purchases: Int, reliability: Double?, policy: TrustPolicy) {
        self.rows = rows
        self.purchases = purchases
        self.reliability = reliability
        var numbers: [String: Int] = [:]
        rowRaters = rows.map { row in
            if let n = numbers[row.rater] { return n }
            numbers[row.rater] = numbers.count
            return numbers.count - 1
        }
        raterNumbers = numbers
        var perRater = [Int](repeating: 0, count: numbers.count)
        var log: [(rater: Int, interaction: Interaction)] = []
        for (row, rater) in zip(rows, rowRaters).reversed() {
            guard perRater[rater] < policy.ratingsPerRaterInReputation else { continue }
            perRater[rater] += 1
            let factor = maturity[row.rater] ?? 0
            guard factor > 0 else { continue }
            log.append((rater, Self.interaction(row, weight: Double(row.weight) * factor)))
        }
        reputationLog = log.reversed()
        weighedRaters = Set(log.map(\.rater)).count
    }

    static func interaction(_ r: ScoringRow, weight: Double) -> Interaction {
        Interaction(satisfaction: Double(r.satisfaction) / 1000, weight: weight, time: r.firstRated)
    }

    /// The scores for `viewer` at `now`.
    func scores(for viewer: String, policy: TrustPolicy, weights: DependabilityWeights?, now: Int64) -> ServiceScores {
        let me = raterNumbers[viewer] ?? -1
        let own = me < 0 ? [] : zip(rows, rowRaters).filter { $0.1 == me }.map { Self.interaction($0.0, weight: Double($0.0.weight)) }
        let others = me < 0 ? reputationLog.map(\.interaction) : reputationLog.filter { $0.rater != me }.map(\.interaction)
        let trust = TrustFigures(own, fading: policy.fading, now: now)
        let reputation = TrustFigures(others, fading: policy.fading, now: now)
        let popularity = Popularity.of(requests: purchases, halfAt: policy.popularityHalfAt)
        let applied = (weights ?? policy.weights).adapted(ownInteractions: trust.count, fullTrustAfter: policy.fullTrustAfter)
        let dependability = Dependability(trust: trust.value, reputation: reputation.value, reliability: reliability ?? 0,
                                          popularity: popularity, weights: applied)
        return ServiceScores(trust: trust, reputation: reputation, reliability: reliability, popularity: popularity,
                             purchases: purchases, ratings: rows.count, dependability: dependability,
                             newcomer: rows.count < policy.newcomerBelowRatings,
                             blacklisted: isBlacklisted(policy: policy, now: now))
    }

    /// The same for every viewer: enough different raters (`blacklistAfterRatings`), and the
    /// reputation over all of them (the viewer's own included) under `blacklistBelow`.
    private func isBlacklisted(policy: TrustPolicy, now: Int64) -> Bool {
        guard policy.blacklistAfterRatings > 0, weighedRaters >= policy.blacklistAfterRatings else { return false }
        return TrustFigures(reputationLog.map(\.interaction), fading: policy.fading, now: now).value < policy.blacklistBelow
    }

    func isRater(_ viewer: String) -> Bool { raterNumbers[viewer] != nil }
}
