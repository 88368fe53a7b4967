internal import Synchronization
internal import Dispatch

/// The bounded hand-over between libmosquitto's network thread and the ingester.
///
/// `offer` never blocks (the network thread must keep reading, or the broker's queue for
/// Agora grows and finally drops). When the queue is full the new message is refused and
/// counted — the overflow policy: keep what is queued, drop what arrives. At the default
/// capacity that is tens of seconds of full-speed ingestion.
///
/// Waking, not polling: an idle ingester parks in `waitForMessages`, and the `offer` that
/// finds it parked resumes it; an idle gateway therefore costs no wake-ups here.
///
/// Settlement: every offered message is numbered; the ingester calls `settle` once the
/// messages it drained are durable (or dropped for good, and counted). The MQTT client
/// holds its acknowledgements to the broker until everything it has read is settled
/// (`waitUntilSettled`), so a reading the broker handed over is never lost to a crash.
/// That wait blocks the network thread on a semaphore that `settle` signals only once the
/// mark waited for is reached (one wake-up per wait, no timeout polling).
public final class IngestQueue: Sendable {
    public struct Message: Sendable {
        /// Where the message was published, parsed once on arrival.
        public let topic: GatewayTopic
        public let payload: [UInt8]
        /// Arrival time, ns since 1970.
        public let received: Int64

        public init(topic: GatewayTopic, payload: [UInt8], received: Int64) {
            self.topic = topic; self.payload = payload; self.received = received
        }
    }

    private struct State: ~Copyable {
        var items: [Message] = []
        var head = 0
        var dropped = 0
        /// Messages offered so far (queued or dropped), and how many of them are settled.
        var offered: UInt64 = 0
        var settled: UInt64 = 0
        /// The ingester, parked in `waitForMessages` until something arrives.
        var waiter: CheckedContinuation<Void, Never>?
        /// A `wakeIngester` that found nobody parked: the next wait returns at once.
        var wakePending = false
        /// The mark the network thread is blocked on in `waitUntilSettled`, if it is.
        var settleMark: UInt64?
    }

    private let state = Mutex(State())
    /// Signalled (once) when `settled` reaches `settleMark`, or by `interruptSettleWait`.
    private let settledSignal = DispatchSemaphore(value: 0)
    public let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = max(1, capacity) }

    /// Queues `message`; false (and counted) when the queue is full. Wakes a parked ingester.
    @discardableResult
    public func offer(_ message: Message) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            state.offered += 1
            guard state.items.count - state.head < capacity else {
                state.dropped += 1
                state.settled += 1 // lost already, and counted: nothing to wait for
                return (false, nil)
            }
            state.items.append(message)
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume()
        return accepted
    }

    /// How many messages have been offered so far (the mark `waitUntilSettled` waits for).
    public var offered: UInt64 { state.withLock { $0.offered } }

    /// How many offered messages are settled (durable, or dropped for good).
    public var settled: UInt64 { state.withLock { $0.settled } }

    /// The ingester has made `count` drained messages durable, or dropped them for good.
    public func settle(_ count: Int) {
        let wake = state.withLock { state -> Bool in
            state.settled += UInt64(count)
            guard let mark = state.settleMark, state.settled >= mark else { return false }
            state.settleMark = nil
            return true
        }
        if wake { settledSignal.signal() }
    }

    /// Blocks the calling (network) thread until every message up to `mark` is settled
    /// (true), or until `stillWaiting` says to stop or `deadline` passes (false).
    ///
    /// `stillWaiting` is checked under the queue's lock, before blocking and again after each
    /// `interruptSettleWait`; a caller that makes it false and then calls
    /// `interruptSettleWait` therefore never leaves this wait blocked.
    public func waitUntilSettled(_ mark: UInt64, deadline: ContinuousClock.Instant? = nil, stillWaiting: () -> Bool) -> Bool {
        enum Step { case settled, stop, wait }
        while true {
            let step = state.withLock { state -> Step in
                if state.settled >= mark { state.settleMark = nil; return .settled }
                guard stillWaiting() else { state.settleMark = nil; return .stop }
                state.settleMark = mark
                return .wait
            }
            switch step {
            case .settled: return true
            case .stop: return false
            case .wait:
                guard let deadline else { settledSignal.wait(); continue }
                let left = ContinuousClock.now.duration(to: deadline)
                let nanos = left.components.seconds * 1_000_000_000 + left.components.attoseconds / 1_000_000_000
                if nanos <= 0 || settledSignal.wait(timeout: .now() + .nanoseconds(Int(nanos))) == .timedOut {
                    // A `settle` may have signalled just after the timeout: its count stays in the
                    // semaphore and makes a later wait loop once more, which is harmless.
                    return state.withLock { state in
                        state.settleMark = nil
                        return state.settled >= mark
                    }
                }
            }
        }
    }

    /// Wakes a blocked `waitUntilSettled` so that it checks its `stillWaiting` again.
    public func interruptSettleWait() {
        let waiting = state.withLock { state -> Bool in
            defer { state.settleMark = nil }
            return state.settleMark != nil
        }
        if waiting { settledSignal.signal() }
    }

    /// Takes up to `limit` messages, oldest first.
    public func drain(limit: Int) -> [Message] {
        state.withLock { state in
            let end = min(state.items.count, state.head + limit)
            let taken = Array(state.items[state.head..<end])
            state.head = end
            if state.head == state.items.count {
                state.items.removeAll(keepingCapacity: true)
                state.head = 0
            } else if state.head > 4096, state.head * 2 > state.items.count {
                state.items.removeFirst(state.head)
                state.head = 0
            }
            return taken
        }
    }

    /// Suspends until the queue holds a message or `wakeIngester` is called; returns at once
    /// if either already happened. For the one ingester: a second concurrent waiter is a
    /// programming error.
    public func waitForMessages() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let parked = state.withLock { state -> Bool in
                if state.head < state.items.count || state.wakePending {
                    state.wakePending = false
                    return false
                }
                precondition(state.waiter == nil, "IngestQueue has one ingester")
                state.waiter = continuation
                return true
            }
            if !parked { continuation.resume() }
        }
    }

    /// Resumes the ingester parked in `waitForMessages` (or makes its next wait return at
    /// once), e.g. so that it notices graceful shutdown or cancellation.
    public func wakeIngester() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            if state.waiter == nil { state.wakePending = true }
            return state.waiter
        }
        waiter?.resume()
    }

    public var dropped: Int { state.withLock { $0.dropped } }

    /// Whether the ingester is parked in `waitForMessages` (for tests).
    var hasParkedIngester: Bool { state.withLock { $0.waiter != nil } }

    /// How many messages wait to be drained.
    public var count: Int { state.withLock { $0.items.count - $0.head } }
}
