/// M-Sec's trust of one actor in a service, from a log of interactions:
///
///     W = Σ w·f          μ = Σ s·w·f / W
///     σ = √(Σ s²·w·f · W − (Σ s·w·f)²) / W
///     T = μ − σ
///
/// computed from the viewer's own interactions it is trust T; from everyone else's, the
/// same figures are reputation R. With no interaction that counts (W = 0) the service is a
/// newcomer to that viewer and T is 0, as the model says newcomers start.
///
/// The radicand is clamped at 0: it is a variance times W², never negative in exact
/// arithmetic, but rounding can make it −1e-17 when every s is equal.
public struct TrustFigures: Hashable, Sendable {
    /// μ, the weighted mean satisfaction.
    public var mean: Double
    /// σ, the weighted standard deviation of satisfaction.
    public var deviation: Double
    /// W, the sum of weight × fading.
    public var totalWeight: Double
    /// Interactions whose fading factor is above 0.
    public var count: Int

    /// T (or R): μ − σ, 0 for a service with no counted interaction.
    public var value: Double { totalWeight > 0 ? mean - deviation : 0 }

    public static let none = TrustFigures(mean: 0, deviation: 0, totalWeight: 0, count: 0)

    public init(mean: Double, deviation: Double, totalWeight: Double, count: Int) {
        self.mean = mean
        self.deviation = deviation
        self.totalWeight = totalWeight
        self.count = count
    }

    /// The figures of `interactions` (oldest first) under `fading` at time `now`.
    public init(_ interactions: [Interaction], fading: Fading, now: Int64) {
        let factors = fading.factors(interactions, now: now)
        var total = 0.0, sum = 0.0, squares = 0.0, counted = 0
        for (interaction, f) in zip(interactions, factors) where f > 0 {
            let wf = interaction.weight * f
            total += wf
            sum += interaction.satisfaction * wf
            squares += interaction.satisfaction * interaction.satisfaction * wf
            counted += 1
        }
        guard total > 0 else { self = .none; return }
        self.init(mean: sum / total, deviation: max(0, squares * total - sum * sum).squareRoot() / total,
                  totalWeight: total, count: counted)
    }
}
