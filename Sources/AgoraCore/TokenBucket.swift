/// A token bucket: `capacity` requests at once, then `perSecond` on average.
///
/// A plain value with the time passed in, so callers decide the clock and the lock (and
/// tests need neither). Written here rather than taken from a library: the candidates
/// (swift-async-algorithms' throttle, NIO's timers) pace a stream, they do not answer
/// "may this one request pass now" for thousands of keys.
public struct TokenBucket: Sendable, Equatable {
    public let capacity: Double
    public let perSecond: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    public init(capacity: Int, perSecond: Double, now: ContinuousClock.Instant) {
        self.capacity = Double(capacity)
        self.perSecond = perSecond
        self.tokens = Double(capacity)
        self.updated = now
    }

    /// Takes one token if there is one.
    public mutating func take(now: ContinuousClock.Instant) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Returns one token (for a request that turned out to cost nothing).
    public mutating func give(now: ContinuousClock.Instant) {
        refill(now: now)
        tokens = min(capacity, tokens + 1)
    }

    /// The tokens there would be at `now` (the refill since the last update, capped).
    private func level(at now: ContinuousClock.Instant) -> Double {
        let elapsed = now - updated
        let seconds = elapsed.secondsValue
        return min(capacity, tokens + max(seconds, 0) * perSecond)
    }

    private mutating func refill(now: ContinuousClock.Instant) {
        guard now > updated else { return }
        tokens = level(at: now)
        updated = now
    }

    /// Whether a `take` at `now` would succeed, without taking.
    public func hasToken(now: ContinuousClock.Instant) -> Bool {
        level(at: now) >= 1
    }

    /// Whether the bucket is full again (its key can be forgotten).
    public func isFull(now: ContinuousClock.Instant) -> Bool {
        level(at: now) >= capacity
    }
}
