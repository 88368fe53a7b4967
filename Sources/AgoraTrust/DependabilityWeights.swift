/// The weights a, b, c, d of D: non-negative, summing to 1.
public struct DependabilityWeights: Hashable, Sendable, CustomStringConvertible {
    public private(set) var trust: Double
    public private(set) var reputation: Double
    public private(set) var reliability: Double
    public private(set) var popularity: Double

    /// How far from 1 the sum may be: weights written with three decimals in a config file
    /// or a request (0.333 × 3) must pass, a typo (0.3 + 0.3 + 0.3 + 0.3) must not.
    static let tolerance = 0.0015

    public init(trust: Double, reputation: Double, reliability: Double, popularity: Double) throws(TrustModelError) {
        let all = [trust, reputation, reliability, popularity]
        guard all.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw .invalidWeights("every weight must be a number ≥ 0 (got \(all.map { "\($0)" }.joined(separator: ", ")))")
        }
        let sum = all.reduce(0, +)
        guard abs(sum - 1) <= Self.tolerance else {
            throw .invalidWeights("the weights must sum to 1 (these sum to \(sum))")
        }
        // Normalised, so D stays within the components' range whatever rounding the writer used.
        self.trust = trust / sum
        self.reputation = reputation / sum
        self.reliability = reliability / sum
        self.popularity = popularity / sum
    }

    /// M-Sec's advice, "few own interactions → low a, high b", as a rule: a viewer with
    /// fewer than `fullTrustAfter` interactions of its own gets a·n/fullTrustAfter, and the
    /// rest of a goes to reputation. At 0 interactions D ignores the viewer's (empty) trust.
    public func adapted(ownInteractions n: Int, fullTrustAfter: Int) -> DependabilityWeights {
        guard fullTrustAfter > 0, n < fullTrustAfter else { return self }
        var copy = self
        copy.trust = trust * Double(max(0, n)) / Double(fullTrustAfter)
        copy.reputation = reputation + (trust - copy.trust)
        return copy
    }

    /// `a,b,c,d`, the form of `[trust] weights` and of a request's `weights` attribute.
    public var description: String { "\(trust),\(reputation),\(reliability),\(popularity)" }

    /// Parses `a,b,c,d`.
    public init(parsing text: String) throws(TrustModelError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.compactMap { Double($0.trimmingCharacters(in: " ")) }
        guard parts.count == 4, values.count == 4 else {
            throw .invalidWeights("write the weights as four numbers a,b,c,d for trust, reputation, reliability and popularity (got '\(text.prefix(64))')")
        }
        try self.init(trust: values[0], reputation: values[1], reliability: values[2], popularity: values[3])
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
