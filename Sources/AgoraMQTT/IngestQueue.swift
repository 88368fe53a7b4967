internal import Synchronization
internal import Dispatch

/// The bounded hand-over between libmosquitto's network thread and the ingester.
///
/// `offer` never blocks (the network thread must keep reading, or the broker's queue for
/// Agora grows and finally drops). When the queue is full the new message is refused and
/// counted — the overflow policy: keep what is queued, drop what arrives. At the default
/// capacity that is tens of seconds of full-speed ingestion.
///
/// Settlement: every offered message is numbered; the ingester calls `settle` once the
/// messages it drained are durable (or dropped for good, and counted). The MQTT client
/// holds its acknowledgements to the broker until everything it has read is settled
/// (`waitUntilSettled`), so a reading the broker handed over is never lost to a crash.
public final class IngestQueue: Sendable {
    public struct Message: Sendable {
        public let topic: String
        public let payload: [UInt8]
        /// Arrival time, ns since 1970.
        public let received: Int64
    }

    private struct State: ~Copyable {
        var items: [Message] = []
        var head = 0
        var dropped = 0
        /// Messages offered so far (queued or dropped), and how many of them are settled.
        var offered: UInt64 = 0
        var settled: UInt64 = 0
    }

    private let state = Mutex(State())
    private let settledSignal = DispatchSemaphore(value: 0)
    public let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = max(1, capacity) }

    /// Queues `message`; false (and counted) when the queue is full.
    @discardableResult
    public func offer(_ message: Message) -> Bool {
        state.withLock { state in
            state.offered += 1
            guard state.items.count - state.head < capacity else {
                state.dropped += 1
                state.settled += 1 // lost already, and counted: nothing to wait for
                return false
            }
            state.items.append(message)
            return true
        }
    }

    /// How many messages have been offered so far (the mark `waitUntilSettled` waits for).
    public var offered: UInt64 { state.withLock { $0.offered } }

    /// The ingester has made `count` drained messages durable, or dropped them for good.
    public func settle(_ count: Int) {
        state.withLock { $0.settled += UInt64(count) }
        settledSignal.signal()
    }

    /// Blocks the calling (network) thread until every message up to `mark` is settled, or
    /// `stillWaiting` says to stop; true when settled.
    public func waitUntilSettled(_ mark: UInt64, stillWaiting: () -> Bool) -> Bool {
        while state.withLock({ $0.settled < mark }) {
            guard stillWaiting() else { return false }
            _ = settledSignal.wait(timeout: .now() + .milliseconds(50))
        }
        return true
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

    public var dropped: Int { state.withLock { $0.dropped } }
}
