/// Why a trust-model setting or request was refused.
public enum TrustModelError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidWeights(String)

    public var description: String {
        switch self {
        case .invalidWeights(let reason): "invalid dependability weights: \(reason)"
        }
    }
}
