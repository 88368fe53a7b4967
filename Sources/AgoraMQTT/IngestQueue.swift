internal import Synchronization

/// The bounded hand-over between libmosquitto's network thread and the ingester.
///
/// `offer` never blocks (the network thread must keep reading, or the broker's queue for
/// Agora grows and finally drops). When the queue is full the new message is refused and
/// counted — the overflow policy: keep what is queued, drop what arrives. At the default
/// capacity that is tens of seconds of full-speed ingestion.
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
    }

    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = max(1, capacity) }

    /// Queues `message`; false (and counted) when the queue is full.
    @discardableResult
    public func offer(_ message: Message) -> Bool {
        state.withLock { state in
            guard state.items.count - state.head < capacity else {
                state.dropped += 1
                return false
            }
            state.items.append(message)
            return true
        }
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
