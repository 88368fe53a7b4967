@testable import AgoraXMPP
import NIOCore
import Testing

struct AuthThrottleTests {
    @Test func failuresBeyondTheFreeOnesBlockWithDoublingBackoffUpToTheCap() {
        let throttle = AuthThrottle(policy: .init(freeFailures: 3, maxBackoff: .seconds(5)))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        for _ in 0..<3 { throttle.failed("alice", now: start) }
        #expect(throttle.blocked("alice", now: start) == nil)
        throttle.failed("alice", now: start)
        #expect(throttle.blocked("alice", now: start) == start + .seconds(1))
        throttle.failed("alice", now: start)
        #expect(throttle.blocked("alice", now: start) == start + .seconds(2))
        for _ in 0..<10 { throttle.failed("alice", now: start) }
        #expect(throttle.blocked("alice", now: start) == start + .seconds(5))
        #expect(throttle.blocked("alice", now: start + .seconds(6)) == nil)
        #expect(throttle.blocked("bob", now: start) == nil)
        throttle.succeeded("alice")
        #expect(throttle.blocked("alice", now: start) == nil)
    }

    @Test func theConnectionLimiterRefusesBeyondTheRateAndTheCap() {
        let limiter = ConnectionLimiter(maxConnections: 3, ratePerSecond: 2)
        let now = NIODeadline.uptimeNanoseconds(5_000_000_000)
        #expect(limiter.admit("1.2.3.4", now: now) == nil)
        #expect(limiter.admit("1.2.3.4", now: now) == nil)
        #expect(limiter.admit("1.2.3.4", now: now) == .rateExceeded)
        #expect(limiter.admit("5.6.7.8", now: now) == nil)
        #expect(limiter.admit("9.9.9.9", now: now) == .tooManyConnections)
        limiter.release()
        #expect(limiter.admit("1.2.3.4", now: now + .seconds(1)) == nil)
    }
}
