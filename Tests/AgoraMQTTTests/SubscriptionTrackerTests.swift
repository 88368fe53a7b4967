import Testing
@testable import AgoraMQTT

/// `SubscriptionTracker`: the gateway is listening only once every SUBSCRIBE of the current
/// connection is granted and its own probe has come back.
@Suite struct SubscriptionTrackerTests {
    let start = ContinuousClock.now

    @Test func listeningStartsWithTheProbesEchoNotTheConnectionNorTheGrants() {
        var tracker = SubscriptionTracker()
        tracker.sent(1)
        tracker.sent(2)
        #expect(!tracker.isListening, "connected, nothing granted yet")
        let r1 = tracker.acknowledged(1, granted: [1])
        #expect(r1 == .none)
        #expect(!tracker.isListening, "one of two granted")
        let r2 = tracker.acknowledged(2, granted: [0])
        #expect(r2 == .granted)
        #expect(!tracker.isListening, "granted, but nothing has come back yet")
        tracker.probeSent([1, 2, 3], at: start)
        let r3 = tracker.echo([9, 9, 9])
        #expect(!r3, "someone else's probe")
        #expect(!tracker.isListening)
        let r4 = tracker.echo([1, 2, 3])
        #expect(r4)
        #expect(tracker.isListening)
        let r5 = tracker.echo([1, 2, 3])
        #expect(!r5, "a second echo changes nothing")
    }

    @Test func aGrantedButSilentBrokerIsReportedOnceAndNeverCountsAsListening() {
        // What Mosquitto 2.0 does on its pairing listener: every filter granted, nothing delivered.
        var tracker = SubscriptionTracker()
        tracker.sent(1)
        let r6 = tracker.acknowledged(1, granted: [1])
        #expect(r6 == .granted)
        tracker.probeSent([7], at: start)
        let r7 = tracker.probeIsOverdue(at: start + .seconds(1), limit: .seconds(5))
        #expect(!r7)
        let r8 = tracker.probeIsOverdue(at: start + .seconds(6), limit: .seconds(5))
        #expect(r8)
        let r9 = tracker.probeIsOverdue(at: start + .seconds(60), limit: .seconds(5))
        #expect(!r9, "said once per connection")
        #expect(!tracker.isListening)
    }

    @Test func aRefusedFilterKeepsTheGatewayNotListeningEvenWhenTheRestIsGranted() {
        var tracker = SubscriptionTracker()
        tracker.sent(7)
        tracker.sent(8)
        let r10 = tracker.acknowledged(7, granted: [0x80])
        #expect(r10 == .refused)
        let r11 = tracker.acknowledged(8, granted: [1])
        #expect(r11 == .none)
        #expect(!tracker.isListening)
        let r12 = tracker.echo([])
        #expect(!r12, "no probe was sent")
    }

    @Test func aSubackFromAnEarlierConnectionChangesNothing() {
        var tracker = SubscriptionTracker()
        tracker.sent(3)
        tracker.reset()
        tracker.sent(1)
        let r13 = tracker.acknowledged(3, granted: [1])
        #expect(r13 == .none, "id 3 belonged to the connection that dropped")
        let r14 = tracker.acknowledged(1, granted: [1])
        #expect(r14 == .granted)
    }

    @Test func aReconnectStopsListeningUntilItsOwnProbeComesBack() {
        var tracker = SubscriptionTracker()
        tracker.sent(1)
        _ = tracker.acknowledged(1, granted: [1])
        tracker.probeSent([1], at: start)
        _ = tracker.echo([1])
        tracker.reset()
        #expect(!tracker.isListening)
        let r15 = tracker.echo([1])
        #expect(!r15, "the old connection's nonce")
        tracker.sent(2)
        let r16 = tracker.acknowledged(2, granted: [])
        #expect(r16 == .refused, "a SUBACK without return codes grants nothing")
        #expect(!tracker.isListening)
    }
}
