internal import NIOConcurrencyHelpers
internal import Synchronization

/// Counters of what the server refused or dropped, reported by `agora serve` on exit, by
/// status and by `/metrics`. Rare events sit behind one lock; the per-stanza counts, the
/// only ones on a hot path, are relaxed atomics.
public final class XMPPMetrics: Sendable {
    /// The stanza kinds counted in and out (anything else is not a stanza, RFC 6120 §8).
    public enum StanzaKind: String, Sendable, CaseIterable { case message, presence, iq }

    private let messagesIn = Atomic<Int>(0), presencesIn = Atomic<Int>(0), iqsIn = Atomic<Int>(0)
    private let messagesOut = Atomic<Int>(0), presencesOut = Atomic<Int>(0), iqsOut = Atomic<Int>(0)

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
        /// What the multi-user chat service refused, by reason (`rate`, `conflict`, `banned`,
        /// `members_only`, `password`, `full`, `locked`, `create_denied`, `room_quota`,
        /// `not_occupant`, `forbidden`, `bad_request`, `lane`).
        public var mucRefused: [String: Int] = [:]
        /// Groupchat messages a room accepted and reflected to its occupants.
        public var mucMessages = 0
        /// Stanzas a block list stopped (XEP-0191): `outbound` (to an address the sender
        /// blocks) and `inbound` (to an account that blocks the sender).
        public var blocked: [String: Int] = [:]
        /// Server-to-server streams opened, by direction (`inbound`, `outbound`).
        public var s2sStreams: [String: Int] = [:]
        /// Peers authenticated, by how (`external`, `dialback`), and those refused, by why
        /// (`certificate`, `dialback`, `invalid_from`, `policy`, `rate`, `queue`).
        public var s2sAuthenticated: [String: Int] = [:]
        public var s2sRefused: [String: Int] = [:]
        /// Stanzas carried over s2s links, by direction.
        public var s2sStanzas: [String: Int] = [:]
        /// Stanzas bounced to their local sender because a peer could not be reached, by the
        /// error (`remote-server-not-found`, `remote-server-timeout`, `resource-constraint`).
        public var s2sBounced: [String: Int] = [:]
    }

    private let counts = NIOLockedValueBox(Counts())

    public init() {}

    public var snapshot: Counts { counts.withLockedValue { $0 } }

    func record(_ change: (inout Counts) -> Void) { counts.withLockedValue { change(&$0) } }

    /// Counts a stanza a client sent (`inbound`) or one written to a client.
    func stanza(_ name: String, inbound: Bool) {
        switch (name, inbound) {
        case ("message", true): messagesIn.add(1, ordering: .relaxed)
        case ("presence", true): presencesIn.add(1, ordering: .relaxed)
        case ("iq", true): iqsIn.add(1, ordering: .relaxed)
        case ("message", false): messagesOut.add(1, ordering: .relaxed)
        case ("presence", false): presencesOut.add(1, ordering: .relaxed)
        case ("iq", false): iqsOut.add(1, ordering: .relaxed)
        default: break
        }
    }

    /// Stanzas received from clients and sent to them since start, by kind.
    public func stanzas(inbound: Bool) -> [StanzaKind: Int] {
        inbound
            ? [.message: messagesIn.load(ordering: .relaxed), .presence: presencesIn.load(ordering: .relaxed), .iq: iqsIn.load(ordering: .relaxed)]
            : [.message: messagesOut.load(ordering: .relaxed), .presence: presencesOut.load(ordering: .relaxed), .iq: iqsOut.load(ordering: .relaxed)]
    }
}
