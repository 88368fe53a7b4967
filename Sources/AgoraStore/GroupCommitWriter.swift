internal import AgoraCore
internal import CLMDB
public import CoreMetrics
internal import Dispatch
public import Logging
internal import Synchronization
#if canImport(Glibc)
internal import Glibc
#endif

/// The store's only writer: batches write requests from any task into one LMDB write
/// transaction, commits it with a full sync, then resumes each caller with its own result.
///
/// Why a thread of its own: `mdb_txn_commit` blocks in `fsync` (≈0.2 ms here, milliseconds
/// on SD flash) and an LMDB write transaction belongs to the thread that began it; neither
/// may happen on an event loop or a cooperative-pool thread.
///
/// Batching ("group commit"): the writer takes every pending request (at most
/// `maxBatch`); while fewer than `maxBatch` are waiting it lingers for more, at most
/// `window` after the first request arrived and no longer than `quietGap` after the last
/// one. Requests that arrive during a commit form the next batch.
///
/// Isolation: a request that throws gets its own error and leaves nothing behind; the
/// others in its batch commit. A request that throws before writing (the usual refusal:
/// validate, then write) costs nothing more. One that throws after writing makes the
/// writer abort the batch's transaction and run the batch again without it. (LMDB's
/// nested transactions would give the same isolation, but each one allocates a 2 MiB
/// dirty-page list, which costs more than the whole request.) Nothing is acknowledged
/// before the commit that holds it is durable.
///
/// Disk full: when the commit fails with `ENOSPC` or `EDQUOT` the batch is rolled back whole
/// (LMDB writes new pages before the meta page that makes them current, so a failed commit
/// leaves the previous state intact) and every request in it gets `StoreError.diskFull`.
/// The writer says so once per episode (an error line, then a notice when a commit succeeds
/// again) and counts the refused requests; every later batch is tried, so writes resume by
/// themselves as soon as space returns. Reads are unaffected.
///
/// Map growth: when LMDB reports `MDB_MAP_FULL` the whole batch is rolled back, the map
/// doubles (up to `maxMapSize`) and the batch runs again. A write closure may therefore
/// run more than once (here and after a neighbour's rollback) and must not have effects
/// outside its transaction.
///
/// Lifecycle: no thread runs before the first `submit` (or an explicit `start`), so a store
/// opened only to read costs none; `shutdown()` finishes what is queued, ends the thread
/// and resumes its caller without blocking a thread (`shutdownBlocking()` for synchronous
/// teardown). Idle, the thread sleeps on a semaphore that only a request signals.
///
/// Sealing on request: a request submitted with `sealing: true` makes its batch run the
/// seal step (`installSealStep`, which the ledger provides) after the requests and before
/// the commit, so a caller that needs a signed checkpoint over what it wrote (a purchase
/// and its receipt) gets it in the same durable commit instead of a second write.
public final class GroupCommitWriter: Sendable {
    public struct Options: Sendable {
        public var maxBatch: Int
        public var window: Duration
        public var quietGap: Duration
        public init(maxBatch: Int = 512, window: Duration = .milliseconds(1), quietGap: Duration = .microseconds(100)) {
            self.maxBatch = max(1, maxBatch)
            self.window = window
            self.quietGap = quietGap
        }
    }

    /// Work done inside every batch's transaction after the requests, before the commit
    /// (e.g. sealing a ledger checkpoint). If it throws, the error is logged and the batch
    /// commits without the hooks' writes (a checkpoint then comes with a later batch).
    public typealias BatchHook = @Sendable (WriteTransaction) throws -> Void

    /// Work a batch runs, after its requests and before the batch hooks, when one of its
    /// successful requests was submitted with `sealing: true`. Failures are handled like a
    /// hook's: logged, and the batch commits without the step's writes (the caller then
    /// finds no checkpoint over its entry and must seal in a write of its own).
    public typealias SealStep = @Sendable (WriteTransaction) throws -> Void

    private struct Queue: ~Copyable {
        var requests: [any PendingWrite] = []
        var stopping = false
        /// The writer thread has been started (by `start`, or the first `submit`).
        var started = false
        /// The writer thread has ended (or, stopped before it started, never will run).
        var finished = false
        /// Callers of `shutdown`, resumed when the thread has ended.
        var finishWaiters: [@Sendable () -> Void] = []
    }

    private let environment: LMDBEnvironment
    private let options: Options
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    private let hooks: Mutex<[BatchHook]> = Mutex([])
    private let sealStep: Mutex<SealStep?> = Mutex(nil)
    private let stats = Mutex(Statistics())
    /// Where commit durations go (`/metrics`' histogram); nil until someone asks.
    private let commitTimer: Mutex<CoreMetrics.Timer?> = Mutex(nil)

    /// Counters for metrics and benchmarks.
    public struct Statistics: Sendable {
        public var batches = 0
        public var requests = 0
        public var failedRequests = 0
        public var mapGrowths = 0
        public var largestBatch = 0
        /// Batches that ran the seal step because a request asked for it.
        public var sealedBatches = 0
        /// Time spent running requests and hooks, and committing (sync included).
        public var applying: Duration = .zero
        public var committing: Duration = .zero
        /// Requests refused because the disk was full, and how many times it filled up.
        public var diskFullRefusals = 0
        public var diskFullEpisodes = 0
        /// True from a commit that failed for want of disk space until one succeeds.
        public var diskFull = false
    }

    /// A writer with no thread yet: `start` (or the first `submit`) starts it, so opening a
    /// store to read costs no thread, and no thread starts as a side effect of `init`.
    public init(environment: LMDBEnvironment, options: Options = Options(), logger: Logger) {
        self.environment = environment
        self.options = options
        self.logger = logger
    }

    /// Starts the writer thread; does nothing if it runs already or the writer was shut down.
    /// `submit` calls it, so a caller needs it only to pay the thread's start-up up front.
    public func start() {
        let spawn = queue.withLock { queue -> Bool in
            guard !queue.started, !queue.stopping else { return false }
            queue.started = true
            return true
        }
        if spawn { spawnThread { [self] in self.run() } }
    }

    /// Adds work to every future batch (see `BatchHook`).
    public func addBatchHook(_ hook: @escaping BatchHook) {
        hooks.withLock { $0.append(hook) }
    }

    /// Sets the step that batches run for requests submitted with `sealing: true`
    /// (see `SealStep`); replaces an earlier one.
    public func installSealStep(_ step: @escaping SealStep) {
        sealStep.withLock { $0 = step }
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// Records every commit's duration (`mdb_txn_commit`, fsync included) as
    /// `agora_store_commit_duration_seconds` in `factory` from now on.
    public func recordCommitDurations(in factory: any MetricsFactory) {
        commitTimer.withLock { $0 = CoreMetrics.Timer(label: "agora_store_commit_duration_seconds", factory: factory) }
    }

    /// Runs `body` in the next batch and returns its result once the batch is durable.
    ///
    /// Throws whatever `body` threw (its writes are rolled back, others are unaffected), or a
    /// `StoreError` when the batch could not be committed (then nothing of it was written).
    /// With `sealing`, the batch runs the seal step before its commit if `body` succeeds
    /// (see `SealStep`); without a seal step installed the flag does nothing.
    public func submit<T: Sendable>(sealing: Bool = false, _ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let request = WriteRequest(body: body, sealing: sealing, continuation: continuation)
            // Accepted, and whether this request starts the thread: decided under one lock, so
            // a `shutdown` in between waits for the thread that will take the request.
            let (accepted, spawn) = queue.withLock { queue -> (Bool, Bool) in
                guard !queue.stopping else { return (false, false) }
                queue.requests.append(request)
                defer { queue.started = true }
                return (true, !queue.started)
            }
            if spawn { spawnThread { [self] in self.run() } }
            if accepted {
                wakeup.signal()
            } else {
                continuation.resume(throwing: StoreError.writerStopped)
            }
        }
    }

    /// Finishes the pending requests, then stops the writer thread; returns (suspended, not
    /// blocking a thread) once it has ended. Later submissions fail with
    /// `StoreError.writerStopped`.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            requestShutdown { continuation.resume() }
        }
    }

    /// `shutdown` for synchronous callers (a command's or a test's teardown): blocks the
    /// calling thread until the writer thread has ended. Not for async code.
    public func shutdownBlocking() {
        let ended = DispatchSemaphore(value: 0)
        requestShutdown { ended.signal() }
        ended.wait()
    }

    /// Marks the writer stopping and calls `whenFinished` once its thread has ended (at once
    /// if it has, or never started).
    private func requestShutdown(_ whenFinished: @escaping @Sendable () -> Void) {
        let finishedAlready = queue.withLock { queue -> Bool in
            queue.stopping = true
            if !queue.started { queue.finished = true }
            if !queue.finished { queue.finishWaiters.append(whenFinished) }
            return queue.finished
        }
        if finishedAlready { whenFinished() } else { wakeup.signal() }
    }

    // MARK: - Writer thread

    private func run() {
        while true {
            var batch = take(options.maxBatch)
            if batch.isEmpty {
                // Checked before waiting: the wake-up of `shutdown` may have been consumed by `linger`.
                if queue.withLock({ $0.stopping && $0.requests.isEmpty }) { break }
                wakeup.wait()
                continue
            }
            linger(&batch)
            process(batch)
        }
        let waiters = queue.withLock { queue in
            queue.finished = true
            defer { queue.finishWaiters = [] }
            return queue.finishWaiters
        }
        for waiter in waiters { waiter() }
    }

    private func take(_ limit: Int) -> [any PendingWrite] {
        queue.withLock { queue in
            let count = min(limit, queue.requests.count)
            let taken = Array(queue.requests.prefix(count))
            queue.requests.removeFirst(count)
            return taken
        }
    }

    /// Waits briefly for more requests so that one commit serves many callers.
    private func linger(_ batch: inout [any PendingWrite]) {
        let deadline = ContinuousClock.now + options.window
        while batch.count < options.maxBatch, ContinuousClock.now < deadline {
            let gap = min(options.quietGap, deadline - ContinuousClock.now)
            let nanos = Int(gap.components.attoseconds / 1_000_000_000) + Int(gap.components.seconds) * 1_000_000_000
            guard wakeup.wait(timeout: .now() + .nanoseconds(max(0, nanos))) == .success else { return }
            batch.append(contentsOf: take(options.maxBatch - batch.count))
        }
    }

    private func process(_ batch: [any PendingWrite]) {
        var adopted = false
        while true {
            switch attempt(batch) {
            case .mapResized where !adopted:
                // Another process grew the map; take its size and run the batch again.
                adopted = true
                do { try environment.adoptResizedMap() } catch {
                    for request in batch { request.resume(commitError: .lmdb(error)) }
                    record(batch, allFailed: true)
                    return
                }
                continue
            case .mapResized:
                let error = StoreError.lmdb(LMDBError(code: MDB_MAP_RESIZED, operation: "txn_begin (write)"))
                for request in batch { request.resume(commitError: error) }
                record(batch, allFailed: true)
                return
            case .committed:
                for request in batch { request.resume(commitError: nil) }
                record(batch)
                let refused = stats.withLock { stats -> Int? in
                    guard stats.diskFull else { return nil }
                    stats.diskFull = false
                    return stats.diskFullRefusals
                }
                if let refused {
                    logger.notice("disk space is back; the store accepts writes again", metadata: ["store.disk_full_refusals": "\(refused)"])
                }
                return
            case .diskFull(let error):
                let first = stats.withLock { stats -> Bool in
                    let first = !stats.diskFull
                    if first { stats.diskFullEpisodes += 1 }
                    stats.diskFull = true
                    stats.diskFullRefusals += batch.count
                    return first
                }
                if first {
                    logger.error("the disk holding the store is full; refusing writes until space returns",
                                 metadata: ["store.path": "\(environment.path)", "store.error": "\(error)", "batch.size": "\(batch.count)"])
                }
                for request in batch { request.resume(commitError: error) }
                record(batch, allFailed: true)
                return
            case .failed(let error):
                logger.error("write batch failed", metadata: ["store.error": "\(error)", "batch.size": "\(batch.count)"])
                for request in batch { request.resume(commitError: error) }
                record(batch, allFailed: true)
                return
            case .mapFull:
                do {
                    if try environment.grow() {
                        stats.withLock { $0.mapGrowths += 1 }
                        logger.notice("store map grown", metadata: ["store.map_size": "\(environment.currentMapSize)"])
                        continue
                    }
                    let error = StoreError.storeFull(mapSize: environment.maxMapSize)
                    logger.error("store is full; refusing writes", metadata: ["store.map_size": "\(environment.maxMapSize)"])
                    for request in batch { request.resume(commitError: error) }
                    record(batch, allFailed: true)
                } catch {
                    for request in batch { request.resume(commitError: .lmdb(error)) }
                    record(batch, allFailed: true)
                }
                return
            }
        }
    }

    private enum Attempt { case committed, failed(StoreError), diskFull(StoreError), mapFull, mapResized }

    private func attempt(_ batch: [any PendingWrite]) -> Attempt {
        environment.mapLock.lockRead()
        defer { environment.mapLock.unlock() }
        // Requests that failed after writing: left out of the next run, keeping their error.
        var excluded = Set<Int>()
        var runHooks = true
        var runSeal = true
        let applyStart = ContinuousClock.now
        rerun: while true {
            var parent: OpaquePointer?
            var code = mdb_txn_begin(environment.handle, nil, 0, &parent)
            if code == MDB_MAP_RESIZED { return .mapResized }
            guard code == MDB_SUCCESS, let parent else {
                return .failed(.lmdb(LMDBError(code: code, operation: "txn_begin (write)")))
            }
            let txn = WriteTransaction(handle: parent)
            var sealed = false
            for (position, request) in batch.enumerated() where !excluded.contains(position) {
                request.reset()
                let writesBefore = txn.writeCount
                switch request.run(txn) {
                case .success:
                    continue
                case .failure:
                    if txn.writeCount == writesBefore { continue }
                    mdb_txn_abort(parent)
                    excluded.insert(position)
                    continue rerun
                case .mapFull:
                    mdb_txn_abort(parent)
                    return .mapFull
                }
            }
            let asked = batch.indices.contains { !excluded.contains($0) && batch[$0].sealing && !batch[$0].failed }
            if runSeal, asked, let step = sealStep.withLock({ $0 }) {
                switch runStep(step, named: "seal step", in: txn) {
                case .done: sealed = true
                case .failedWithoutWriting: break
                case .mapFull:
                    mdb_txn_abort(parent)
                    return .mapFull
                case .failedAfterWriting:
                    // Its partial writes cannot be picked out: run the batch again without it.
                    mdb_txn_abort(parent)
                    runSeal = false
                    continue rerun
                }
            }
            for hook in runHooks ? hooks.withLock({ $0 }) : [] {
                switch runStep(hook, named: "batch hook", in: txn) {
                case .done, .failedWithoutWriting: continue
                case .mapFull:
                    mdb_txn_abort(parent)
                    return .mapFull
                case .failedAfterWriting:
                    mdb_txn_abort(parent)
                    runHooks = false
                    continue rerun
                }
            }
            let commitStart = ContinuousClock.now
            code = mdb_txn_commit(parent)
            let commitEnd = ContinuousClock.now
            stats.withLock {
                $0.committing += commitEnd - commitStart
                $0.applying += commitStart - applyStart
            }
            commitTimer.withLock { $0 }?.recordNanoseconds((commitEnd - commitStart).nanosecondsValue)
            if code == MDB_MAP_FULL { return .mapFull }
            // mdb_txn_commit returns errno values as they are; on failure it has aborted the transaction.
            if code == ENOSPC || code == EDQUOT { return .diskFull(.diskFull(LMDBError(code: code, operation: "commit").description)) }
            guard code == MDB_SUCCESS else {
                return .failed(.lmdb(LMDBError(code: code, operation: "commit")))
            }
            if sealed { stats.withLock { $0.sealedBatches += 1 } }
            return .committed
        }
    }

    private enum StepOutcome { case done, failedWithoutWriting, mapFull, failedAfterWriting }

    /// Runs a seal step or batch hook; an error that wrote nothing is only logged.
    private func runStep(_ step: BatchHook, named name: String, in txn: WriteTransaction) -> StepOutcome {
        let writesBefore = txn.writeCount
        do {
            try step(txn)
            return .done
        } catch let error as StoreError where error.isMapFull {
            return .mapFull
        } catch {
            logger.error("\(name) failed", metadata: ["error": "\(error)"])
            return txn.writeCount == writesBefore ? .failedWithoutWriting : .failedAfterWriting
        }
    }

    private func record(_ batch: [any PendingWrite], allFailed: Bool = false) {
        let failed = allFailed ? batch.count : batch.reduce(0) { $0 + ($1.failed ? 1 : 0) }
        stats.withLock {
            $0.batches += 1
            $0.requests += batch.count
            $0.failedRequests += failed
            $0.largestBatch = max($0.largestBatch, batch.count)
        }
    }

    private func spawnThread(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            nameCurrentThread("agora-writer")
            box.body()
            return nil
        }, box)
        precondition(code == 0, "cannot start the store writer thread (pthread_create: \(code))")
        pthread_detach(thread)
    }
}

enum RunResult { case success, failure, mapFull }

/// A queued write of any result type.
protocol PendingWrite: AnyObject, Sendable {
    func reset()
    func run(_ txn: WriteTransaction) -> RunResult
    func resume(commitError: StoreError?)
    var failed: Bool { get }
    /// Whether the request asked its batch to run the seal step.
    var sealing: Bool { get }
}

/// One caller's write closure and the continuation waiting for it.
private final class WriteRequest<T: Sendable>: PendingWrite, @unchecked Sendable {
    // @unchecked, and why that is safe: `body` and `continuation` are immutable and
    // Sendable. The one `var`, `outcome`, is touched only by the writer thread (`reset`,
    // `run`, `failed`, `resume`, all called from `run()`'s loop). The submitting task
    // creates the request and appends it under the queue's Mutex; the writer takes it under
    // the same Mutex, so the hand-over is ordered and no two threads touch it at once.
    private let body: @Sendable (WriteTransaction) throws -> T
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?
    let sealing: Bool

    init(body: @escaping @Sendable (WriteTransaction) throws -> T, sealing: Bool, continuation: CheckedContinuation<T, any Error>) {
        self.body = body
        self.sealing = sealing
        self.continuation = continuation
    }

    var failed: Bool { if case .failure = outcome { return true }; return false }

    func reset() { outcome = nil }

    func run(_ txn: WriteTransaction) -> RunResult {
        do {
            outcome = .success(try body(txn))
            return .success
        } catch let error as StoreError where error.isMapFull {
            return .mapFull
        } catch {
            outcome = .failure(error)
            return .failure
        }
    }

    func resume(commitError: StoreError?) {
        if let commitError {
            continuation.resume(throwing: commitError)
        } else if let outcome {
            continuation.resume(with: outcome)
        } else {
            continuation.resume(throwing: StoreError.corrupted("write request finished without an outcome"))
        }
    }
}
