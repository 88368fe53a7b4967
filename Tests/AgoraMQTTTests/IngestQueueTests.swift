import AgoraCore
import Foundation
import Synchronization
import Testing
@testable import AgoraMQTT

/// Runs `body` on a thread of its own (as libmosquitto's network thread would) and returns
/// its result without blocking the test's cooperative thread.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A flag shared with another thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

func message(_ sensor: String = "air-1", payload: String = #"[{"n":"pm25","v":1}]"#) -> IngestQueue.Message {
    .init(topic: GatewayTopic("agora/sensors/\(sensor)/senml", prefix: "agora"), payload: Array(payload.utf8), received: 0)
}

@Suite struct IngestQueueTests {
    @Test func drainTakesTheOldestMessagesFirstUpToTheLimit() {
        let queue = IngestQueue()
        for index in 0..<5 { queue.offer(message(payload: "\(index)")) }
        #expect(queue.drain(limit: 2).map { String(decoding: $0.payload, as: UTF8.self) } == ["0", "1"])
        #expect(queue.drain(limit: 10).map { String(decoding: $0.payload, as: UTF8.self) } == ["2", "3", "4"])
        #expect(queue.drain(limit: 10).isEmpty)
    }

    @Test func aFullQueueRefusesTheNewMessageCountsItAndSettlesIt() {
        let queue = IngestQueue(capacity: 2)
        #expect(queue.offer(message()) && queue.offer(message()))
        #expect(!queue.offer(message()))
        #expect(queue.dropped == 1 && queue.count == 2)
        // The dropped one is lost for good: nothing to wait for.
        #expect(queue.offered == 3 && queue.settled == 1)
    }

    @Test func aBatchsAcknowledgementsAreReleasedOnlyOnceAllOfItIsSettled() async {
        let queue = IngestQueue()
        for _ in 0..<3 { queue.offer(message()) }
        let mark = queue.offered
        let batch = queue.drain(limit: 10)
        let released = Flag()
        let waiter = Task {
            await onThread {
                let settled = queue.waitUntilSettled(mark) { true }
                // What was settled when the network thread was let go.
                let seen = queue.settled
                released.set()
                return (settled, seen)
            }
        }
        queue.settle(batch.count - 1)
        #expect(!released.isSet)
        queue.settle(1)
        let (settled, seen) = await waiter.value
        #expect(settled)
        #expect(seen >= mark)
    }

    @Test func aStopRequestReleasesTheSettleWaitWithoutSettlement() async {
        let queue = IngestQueue()
        queue.offer(message())
        let stopping = Flag()
        let waiter = Task { await onThread { queue.waitUntilSettled(queue.offered) { !stopping.isSet } } }
        stopping.set()
        queue.interruptSettleWait()
        #expect(await waiter.value == false)
        #expect(queue.settled == 0)
    }

    @Test func aSettleWaitWithADeadlineGivesUpOnceItHasPassed() async {
        let queue = IngestQueue()
        queue.offer(message())
        let settled = await onThread { queue.waitUntilSettled(queue.offered, deadline: .now + .milliseconds(20)) { true } }
        #expect(!settled)
    }

    @Test func anIdleIngesterWakesForAMessageOfferedAfterItParked() async {
        let queue = IngestQueue()
        let ingester = Task { () -> Int in
            await queue.waitForMessages()
            return queue.drain(limit: 10).count
        }
        while !queue.hasParkedIngester { await Task.yield() }
        queue.offer(message())
        #expect(await ingester.value == 1)
    }

    @Test func aWakeUpBeforeTheIngesterParksIsNotLost() async {
        let queue = IngestQueue()
        queue.wakeIngester()
        await queue.waitForMessages() // returns at once; a lost wake-up would hang here
        #expect(!queue.hasParkedIngester)
    }

    @Test func waitingOnAQueueThatHoldsMessagesReturnsAtOnce() async {
        let queue = IngestQueue()
        queue.offer(message())
        await queue.waitForMessages()
        #expect(queue.count == 1)
    }

    @Test func topicsAreParsedOnceIntoWhatTheyAddress() throws {
        #expect(GatewayTopic("agora/sensors/air-1/senml", prefix: "agora") == .readings(try SensorID("air-1")))
        #expect(GatewayTopic("city/agora/sensors/air-1/senml", prefix: "city/agora") == .readings(try SensorID("air-1")))
        #expect(GatewayTopic("agora/pair/air-9/request", prefix: "agora") == .pairingRequest("air-9"))
        for topic in ["agora/sensors/bad id/senml", "agora/sensors/air-1/other", "other/sensors/air-1/senml",
                      "agora/sensors/a/b/senml", "agora/pair//request", "agora/pair/x/response"] {
            #expect(GatewayTopic(topic, prefix: "agora") == .unexpected(topic), "\(topic)")
        }
    }
}
