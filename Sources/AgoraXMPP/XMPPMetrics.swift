internal import NIOConcurrencyHelpers

/// Counters of what the server refused or dropped, reported by `agora serve` on exit and
/// by status. Rare events only (the hot paths count nothing), so one lock is enough.
public final class XMPPMetrics: Sendable {
    public struct Counts: Sendable, Equatable {
        public var connections = 0
        public var logins = 0
        public var authFailures = 0
        public var authThrottled = 0
        public var streamErrors: [String: Int] = [:]
        public var refusedConnections = 0
        public var resumptions = 0
        /// IQs answered with a stanza error, by condition (refused requests, bad input).
        public var iqErrors: [String: Int] = [:]
        /// Messages refused offline storage, by which bound refused them (`count`, `bytes`,
        /// `sender_bytes`, or `lane`: the sender's ordered queue of pending stores was full).
        public var offlineRefused: [String: Int] = [:]
        /// Presence stanzas not acted on because the sender's lane was full (or the server stopping).
        public var presenceDropped = 0
    }

    private let counts = NIOLockedValueBox(Counts())

    public init() {}

    public var snapshot: Counts { counts.withLockedValue { $0 } }

    func record(_ change: (inout Counts) -> Void) { counts.withLockedValue { change(&$0) } }
}
