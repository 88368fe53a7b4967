/// Why a trust-model setting or request was refused.
public enum TrustModelError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidWeights(String)
    case invalidFading(String)

    public var description: String {
        switch self {
        case .invalidWeights(let reason): "invalid dependability weights: \(reason)"
        case .invalidFading(let reason): "invalid fading: \(reason)"
        }
    }
}
