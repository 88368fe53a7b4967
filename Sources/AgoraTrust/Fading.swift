#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// How much older interactions count (M-Sec's fading factor f).
///
/// M-Sec names two forms without fixing one; both are offered, chosen in `[trust] fading`:
/// - `lastN(n)`: f = 1 for the n most recent interactions and 0 for the rest ("the last N
///   interactions"), so a service's past beyond its last n ratings is forgotten at once;
/// - `halfLife(seconds)`: f = 2^(−age / half-life), age = now − time (0 for a time in the
///   future), so every rating counts, each less as it ages.
public enum Fading: Hashable, Sendable, CustomStringConvertible {
    case lastN(Int)
    case halfLife(seconds: Int64)

    /// f for each interaction of `interactions`, given oldest first.
    public func factors(_ interactions: [Interaction], now: Int64) -> [Double] {
        switch self {
        case .lastN(let n):
            let keep = max(0, min(n, interactions.count))
            return Array(repeating: 0, count: interactions.count - keep) + Array(repeating: 1, count: keep)
        case .halfLife(let halfLife):
            return interactions.map { interaction in
                let age = Double(max(0, now - interaction.time))
                return exp2(-age / Double(halfLife))
            }
        }
    }

    /// The form `[trust] fading` is written in: `last:50` or `half-life:2592000` (seconds).
    public var description: String {
        switch self {
        case .lastN(let n): "last:\(n)"
        case .halfLife(let seconds): "half-life:\(seconds)"
        }
    }

    /// Parses `last:N` (1…10 000) or `half-life:SECONDS` (60 s … 10 years).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let value = Int64(parts[1]) else { return nil }
        switch parts[0] {
        case "last" where (1...10_000).contains(value): self = .lastN(Int(value))
        case "half-life" where (60...315_360_000).contains(value): self = .halfLife(seconds: value)
        default: return nil
        }
    }
}
