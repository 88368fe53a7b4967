internal import NIOConcurrencyHelpers

/// The XMPP server's asynchronous work — IQs answered later, offline writes, roster changes,
/// presence fan-out — as child tasks of one task group that `XMPPServer.run` owns.
///
/// Routing runs on event loops, which must never wait; what waits (for the store's writer,
/// for an LMDB read that may fault a page in from a slow card) is started here instead. No
/// task outlives the server: `finish` waits until exactly what is in flight is done — work
/// that starts more work keeps the count above zero — and only then ends the group.
///
/// Written on `AsyncStream` and a discarding task group rather than a library queue: the
/// count of jobs in flight is what shutdown waits on, and no queue in the dependencies
/// exposes one.
final class ServerWork: Sendable {
    typealias Job = @Sendable () async -> Void

    private struct State {
        var inFlight = 0
        var accepting = true
        /// `finish` waits here for the count to reach zero.
        var drained: CheckedContinuation<Void, Never>?
        /// `idle` waiters (tests): resumed whenever the count reaches zero.
        var idle: [CheckedContinuation<Void, Never>] = []
        /// Set when `finish` gave up waiting: the group cancels what is left.
        var abandoned = false
    }

    private let state = NIOLockedValueBox(State())
    private let jobs: AsyncStream<Job>
    private let submit: AsyncStream<Job>.Continuation

    init() {
        (jobs, submit) = AsyncStream.makeStream(of: Job.self)
    }

    /// Starts `job` as a child task of the server's group. Returns false once the server has
    /// finished: the caller must then do without (say so to the client, or log what is lost).
    @discardableResult
    func start(_ job: @escaping Job) -> Bool {
        let admitted = state.withLockedValue { state -> Bool in
            guard state.accepting else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else { return false }
        submit.yield {
            await job()
            self.jobEnded()
        }
        return true
    }

    /// Jobs started and not yet done.
    var inFlight: Int { state.withLockedValue { $0.inFlight } }

    private func jobEnded() {
        let (drained, idle) = state.withLockedValue { state -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            state.inFlight -= 1
            guard state.inFlight == 0 else { return (nil, []) }
            let idle = state.idle
            state.idle = []
            guard let drained = state.drained else { return (nil, idle) }
            // The last job is done and nothing can start another: close in the same locked step.
            state.drained = nil
            state.accepting = false
            return (drained, idle)
        }
        for waiter in idle { waiter.resume() }
        if let drained {
            submit.finish()
            drained.resume()
        }
    }

    /// Runs the jobs until `finish`; returns when the last of them is done (or cancelled).
    func run() async {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask(operation: job)
            }
            if state.withLockedValue({ $0.abandoned }) { group.cancelAll() }
        }
    }

    /// Waits until nothing is in flight (tests and the fuzz harness settle on this).
    func idle() async {
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state -> Bool in
                guard state.inFlight > 0 else { return true }
                state.idle.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Stops the server's work: waits until every job in flight (and every job those start)
    /// is done, then refuses new ones and lets `run` return. After `timeout` the rest is
    /// cancelled instead; returns false then.
    @discardableResult
    func finish(timeout: Duration) async -> Bool {
        enum Outcome: Sendable { case drained, timedOut }
        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLockedValue { state -> Bool in
                        guard state.accepting else { return true }
                        guard state.inFlight > 0 else {
                            state.accepting = false
                            return true
                        }
                        state.drained = continuation
                        return false
                    }
                    if now {
                        self.submit.finish()
                        continuation.resume()
                    }
                }
                return .drained
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .timedOut
            }
            let first = await group.next() ?? .drained
            if first == .timedOut {
                // Give up on what is left: no more work, and the group cancels the rest.
                let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                    state.accepting = false
                    state.abandoned = true
                    defer { state.drained = nil }
                    return state.drained
                }
                submit.finish()
                waiter?.resume()
            }
            group.cancelAll()
            return first
        }
        return outcome == .drained
    }
}

/// Work of one session that must happen in the order it arrived — presence broadcasts
/// (a later "away" must not overtake an earlier "available"), subscription changes, and
/// messages stored for an offline recipient — run one job at a time on `ServerWork`.
final class SerialLane: Sendable {
    private struct State {
        var running = false
        var pending: [ServerWork.Job] = []
        var head = 0
    }

    private let state = NIOLockedValueBox(State())

    /// Jobs one lane may hold waiting: a client that sends faster than its work is done is
    /// refused beyond this, instead of queueing without bound.
    static let maxPending = 1000

    /// Queues `job` behind the lane's earlier ones. Returns false when the lane is full or
    /// the server has finished (nothing was queued).
    func start(_ job: @escaping ServerWork.Job, on work: ServerWork) -> Bool {
        let startsDrain = state.withLockedValue { state -> Bool? in
            guard state.pending.count - state.head < Self.maxPending else { return nil }
            state.pending.append(job)
            guard !state.running else { return false }
            state.running = true
            return true
        }
        guard let startsDrain else { return false }
        guard startsDrain else { return true }
        let started = work.start { await self.drain() }
        if !started {
            state.withLockedValue { state in
                state.pending.removeAll()
                state.head = 0
                state.running = false
            }
        }
        return started
    }

    private func drain() async {
        while let job = next() { await job() }
    }

    private func next() -> ServerWork.Job? {
        state.withLockedValue { state in
            guard state.head < state.pending.count else {
                state.pending.removeAll(keepingCapacity: true)
                state.head = 0
                state.running = false
                return nil
            }
            defer { state.head += 1 }
            return state.pending[state.head]
        }
    }
}
