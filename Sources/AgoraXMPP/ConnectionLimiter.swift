internal import NIOConcurrencyHelpers
public import NIOCore

/// Admission control for new connections: a cap on open connections and a token bucket
/// per source address, so one host cannot exhaust the gateway by reconnecting in a loop.
public final class ConnectionLimiter: Sendable {
    public enum Refusal: Sendable, Equatable { case tooManyConnections, rateExceeded }

    private struct State {
        var open = 0
        var buckets: [String: (tokens: Double, updated: NIODeadline)] = [:]
    }

    private let maxConnections: Int
    private let ratePerSecond: Int
    private let state = NIOLockedValueBox(State())

    public init(maxConnections: Int, ratePerSecond: Int) {
        self.maxConnections = maxConnections
        self.ratePerSecond = ratePerSecond
    }

    /// Admits a connection from `address` (counted until `release`), or says why not.
    public func admit(_ address: String, now: NIODeadline = .now()) -> Refusal? {
        state.withLockedValue { state in
            guard state.open < maxConnections else { return .tooManyConnections }
            if ratePerSecond > 0 {
                if state.buckets.count > 50_000 {
                    state.buckets = state.buckets.filter { now - $0.value.updated < .seconds(10) }
                }
                let capacity = Double(ratePerSecond)
                var bucket = state.buckets[address] ?? (capacity, now)
                let elapsed = Double((now - bucket.updated).nanoseconds) / 1e9
                bucket.tokens = min(capacity, bucket.tokens + elapsed * capacity)
                bucket.updated = now
                guard bucket.tokens >= 1 else {
                    state.buckets[address] = bucket
                    return .rateExceeded
                }
                bucket.tokens -= 1
                state.buckets[address] = bucket
            }
            state.open += 1
            return nil
        }
    }

    public func release() { state.withLockedValue { $0.open -= 1 } }

    public var openConnections: Int { state.withLockedValue { $0.open } }
}
