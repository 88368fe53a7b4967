@testable import AgoraXMPP
import NIOConcurrencyHelpers
import Testing

/// The server's task group: shutdown waits for exactly what is in flight, and a session's
/// lane keeps its order.
@Suite struct ServerWorkTests {
    /// A gate a job waits on until the test opens it.
    final class Gate: Sendable {
        private let waiters = NIOLockedValueBox<(open: Bool, continuations: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let now = waiters.withLockedValue { state -> Bool in
                    if state.open { return true }
                    state.continuations.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }
        func open() {
            let continuations = waiters.withLockedValue { state in
                state.open = true
                defer { state.continuations = [] }
                return state.continuations
            }
            for continuation in continuations { continuation.resume() }
        }
    }

    @Test func finishWaitsForWorkInFlightAndForTheWorkItStarts() async {
        let work = ServerWork()
        let done = NIOLockedValueBox<[String]>([])
        let gate = Gate()
        await withDiscardingTaskGroup { group in
            group.addTask { await work.run() }
            work.start {
                await gate.wait()
                // Work that starts more work while the server is finishing: it still runs.
                work.start { done.withLockedValue { $0.append("child") } }
                done.withLockedValue { $0.append("parent") }
            }
            group.addTask {
                let drained = await work.finish(timeout: .seconds(30))
                done.withLockedValue { $0.append("finished:\(drained)") }
            }
            // finish() cannot return while the parent waits at the gate.
            try? await Task.sleep(for: .milliseconds(50))
            #expect(done.withLockedValue { $0 }.isEmpty)
            gate.open()
        }
        let order = done.withLockedValue { $0 }
        #expect(Set(order.prefix(2)) == ["parent", "child"])
        #expect(order.last == "finished:true")
        #expect(work.inFlight == 0)
        // After finishing, nothing new starts.
        #expect(work.start {} == false)
    }

    @Test func finishCancelsWorkThatOutlivesItsTimeout() async {
        let work = ServerWork()
        let sawCancellation = NIOLockedValueBox(false)
        await withDiscardingTaskGroup { group in
            group.addTask { await work.run() }
            work.start {
                try? await Task.sleep(for: .seconds(3600))
                sawCancellation.withLockedValue { $0 = Task.isCancelled }
            }
            let drained = await work.finish(timeout: .milliseconds(100))
            #expect(drained == false)
        }
        #expect(sawCancellation.withLockedValue { $0 })
    }

    @Test func aLaneRunsItsJobsOneAtATimeInOrder() async {
        let work = ServerWork()
        let lane = SerialLane()
        let log = NIOLockedValueBox<[Int]>([])
        let running = NIOLockedValueBox((now: 0, most: 0))
        await withDiscardingTaskGroup { group in
            group.addTask { await work.run() }
            for index in 0..<50 {
                let queued: Bool = lane.start({
                    running.withLockedValue { $0.now += 1; $0.most = max($0.most, $0.now) }
                    await Task.yield()
                    log.withLockedValue { $0.append(index) }
                    running.withLockedValue { $0.now -= 1 }
                }, on: work)
                #expect(queued)
            }
            await work.finish(timeout: .seconds(30))
        }
        #expect(log.withLockedValue { $0 } == Array(0..<50))
        #expect(running.withLockedValue { $0.most } == 1)
    }

    @Test func aFullLaneRefusesInsteadOfQueueingWithoutBound() async {
        let work = ServerWork()
        let lane = SerialLane()
        let gate = Gate(), started = Gate()
        await withDiscardingTaskGroup { group in
            group.addTask { await work.run() }
            // The first job holds the lane; maxPending more may wait behind it, no more.
            let first = lane.start({ started.open(); await gate.wait() }, on: work)
            #expect(first)
            await started.wait()
            var accepted = 0
            for _ in 0..<(SerialLane.maxPending + 10) where lane.start({ await gate.wait() }, on: work) { accepted += 1 }
            #expect(accepted == SerialLane.maxPending)
            gate.open()
            await work.finish(timeout: .seconds(30))
        }
        #expect(work.inFlight == 0)
    }
}
