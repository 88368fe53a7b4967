import Testing
@testable import AgoraMQTT

/// `SubscriptionTracker`: the gateway is listening only once every SUBSCRIBE of the current
/// connection is granted.
@Suite struct SubscriptionTrackerTests {
    @Test func listeningStartsWithTheLastGrantedSubscriptionNotTheConnection() {
        var tracker = SubscriptionTracker()
        tracker.sent(1)
        tracker.sent(2)
        #expect(!tracker.isListening, "connected, nothing granted yet")
        #expect(tracker.acknowledged(1, granted: [1]) == .none)
        #expect(!tracker.isListening, "one of two granted")
        #expect(tracker.acknowledged(2, granted: [0]) == .nowListening)
        #expect(tracker.isListening)
    }

    @Test func aRefusedFilterKeepsTheGatewayNotListeningEvenWhenTheRestIsGranted() {
        var tracker = SubscriptionTracker()
        tracker.sent(7)
        tracker.sent(8)
        #expect(tracker.acknowledged(7, granted: [0x80]) == .refused)
        #expect(tracker.acknowledged(8, granted: [1]) == .none)
        #expect(!tracker.isListening)
    }

    @Test func aSubackFromAnEarlierConnectionChangesNothing() {
        var tracker = SubscriptionTracker()
        tracker.sent(3)
        tracker.reset()
        tracker.sent(1)
        #expect(tracker.acknowledged(3, granted: [1]) == .none, "id 3 belonged to the connection that dropped")
        #expect(!tracker.isListening)
        #expect(tracker.acknowledged(1, granted: [1]) == .nowListening)
    }

    @Test func aReconnectStopsListeningUntilItsOwnSubscriptionsAreGranted() {
        var tracker = SubscriptionTracker()
        tracker.sent(1)
        _ = tracker.acknowledged(1, granted: [1])
        tracker.reset()
        #expect(!tracker.isListening)
        tracker.sent(2)
        #expect(tracker.acknowledged(2, granted: []) == .refused, "a SUBACK without return codes grants nothing")
        #expect(!tracker.isListening)
    }
}
