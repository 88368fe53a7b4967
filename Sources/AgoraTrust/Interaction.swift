/// One rated interaction with a service, as M-Sec's trust model logs it: how satisfied the
/// rater was (s ∈ [0, 1]), how much the service mattered (w > 0), and when (for fading).
///
/// Agora's interactions are purchases and their ratings (`rating` ledger entries): `time` is
/// when the purchase was first rated, so a revision changes s but not the interaction's age.
public struct Interaction: Hashable, Sendable {
    public var satisfaction: Double
    public var weight: Double
    /// Seconds since the epoch.
    public var time: Int64

    public init(satisfaction: Double, weight: Double, time: Int64) {
        self.satisfaction = satisfaction
        self.weight = weight
        self.time = time
    }
}
