internal import AgoraCore
internal import Synchronization

/// How many lines one kind of warning may write: a few at once, then one every few
/// seconds; the first line after a quiet spell says how many were left out.
public final class LogAllowance: Sendable {
    private let state: Mutex<(bucket: TokenBucket, suppressed: Int)>

    public init(burst: Int = 10, perSecond: Double = 0.2) {
        state = Mutex((TokenBucket(capacity: burst, perSecond: perSecond, now: .now), 0))
    }

    /// nil: do not log; otherwise how many lines were suppressed before this one.
    public func spend(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { state in
            guard state.bucket.take(now: now) else { state.suppressed += 1; return nil }
            defer { state.suppressed = 0 }
            return state.suppressed
        }
    }
}
