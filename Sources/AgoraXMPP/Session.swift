public import AgoraCore
internal import NIOConcurrencyHelpers
internal import NIOCore

/// Something a session's stanzas can be written to: a live connection on its event loop.
protocol SessionConnection: AnyObject {
    /// Writes `stanza` to the client (called on the connection's event loop).
    func write(stanza: XMLElement)
    /// Closes the connection without a stream error (its session moved elsewhere).
    func abandon()
}

/// One bound resource (RFC 6120 §7): the routing target for its full JID, and — with
/// XEP-0198 — the state that outlives a dropped TCP connection so it can be resumed.
///
/// A session is attached to at most one connection at a time. Deliveries from any event
/// loop go through `deliver`, which hops to the attached connection's loop, or queue while
/// the session is detached waiting for resumption. All mutable state sits behind one lock.
///
/// `@unchecked Sendable`: the identity fields are immutable and everything else lives in
/// `state`, a `NIOLockedValueBox`; the connection inside is a `NIOLoopBound`, touched only
/// on its own loop.
public final class Session: @unchecked Sendable {
    public let jid: JID
    /// `jid` as text, stamped as `from` on everything this session sends.
    public let jidText: String
    public let bare: BareJID
    /// The XEP-0198 resumption id.
    public let streamID: String
    /// This session's ordered work (presence, offline stores): see `SerialLane`.
    let lane = SerialLane()

    struct State {
        var connection: NIOLoopBound<AnyObject>?
        var detachedDeadline: NIODeadline?
        var closed = false
        var priority = 0
        var available = false
        var presence: XMLElement?
        var requestedRoster = false
        /// XEP-0280: this resource gets copies of the account's chats.
        var carbons = false
        /// XEP-0191: this resource asked for the block list, so it gets its changes.
        var requestedBlocklist = false
        /// XEP-0352: the client is in the background; presence waits in `heldPresence`
        /// (the newest per sender, in arrival order) until it is active again.
        var inactive = false
        var heldPresence: [String: XMLElement] = [:]
        var heldOrder: [String] = []
        /// IQs of this session being answered asynchronously (`IQReply.later`, `.resultThen`).
        var iqsInFlight = 0
        // XEP-0198.
        var smEnabled = false
        var resumable = false
        var inbound: UInt32 = 0
        var outbound: UInt32 = 0
        /// Sent but not yet acknowledged, with the outbound count each one raised.
        var unacked: [(sequence: UInt32, stanza: XMLElement)] = []
        /// Arrived while detached.
        var queued: [XMLElement] = []
        /// Whether the attached connection takes more now (NIO's writability: its outbound
        /// buffer is under the high-water mark), and who waits for it to.
        var writable = true
        var writableWaiters: [@Sendable () -> Void] = []

        /// Takes the waiters for writability, to call once the lock is released.
        mutating func takeWritableWaiters() -> [@Sendable () -> Void] {
            defer { writableWaiters = [] }
            return writableWaiters
        }
    }

    let state: NIOLockedValueBox<State>

    /// Stanzas kept for a detached or slow session before the oldest are bounced.
    static let maxQueued = 1000

    init(jid: JID, bare: BareJID, streamID: String) {
        self.jid = jid
        self.jidText = jid.description
        self.bare = bare
        self.streamID = streamID
        self.state = NIOLockedValueBox(State())
    }

    func attach(_ connection: some SessionConnection, on loop: any EventLoop) {
        let bound = NIOLoopBound<AnyObject>(connection, eventLoop: loop)
        let waiters = state.withLockedValue {
            $0.connection = bound
            $0.detachedDeadline = nil
            $0.writable = true
            return $0.takeWritableWaiters()
        }
        for waiter in waiters { waiter() }
    }

    /// Routes `stanza` to this session's client. Returns false when the session is closed or
    /// its resumption queue is full (the caller then treats the recipient as gone: offline
    /// storage or an error to the sender).
    /// Senders whose presence an inactive client's session holds at most; beyond, presence
    /// goes out as usual (a huge roster costs bandwidth, never unbounded memory).
    static let maxHeldPresence = 1000

    /// XEP-0352: while inactive, presence (nobody waits for it) is held, the newest per
    /// sender; becoming active sends what was held, in the order it came.
    func setClientActive(_ active: Bool) {
        guard active else {
            state.withLockedValue { $0.inactive = true }
            return
        }
        // Held presence goes out before anything delivered later: the session stays inactive
        // (so newer presence joins the held) until a round finds nothing held.
        while true {
            let held = state.withLockedValue { state -> [XMLElement] in
                guard !state.heldOrder.isEmpty else {
                    state.inactive = false
                    return []
                }
                defer { state.heldPresence = [:]; state.heldOrder = [] }
                return state.heldOrder.compactMap { state.heldPresence[$0] }
            }
            if held.isEmpty { return }
            for presence in held { deliver(presence, holding: false) }
        }
    }

    /// Whether XEP-0352 may hold `stanza` back: ordinary presence (available or unavailable),
    /// not an error (a refused join) nor a room's presence about the client itself (its
    /// entering, status 110), which it waits for.
    static func isHoldable(_ stanza: XMLElement) -> Bool {
        guard stanza.name == "presence" else { return false }
        let type = stanza[attribute: "type"]
        guard type == nil || type == "unavailable" else { return false }
        guard let x = stanza.child("x", namespace: "http://jabber.org/protocol/muc#user") else { return true }
        return !x.elements.contains { $0.name == "status" && $0[attribute: "code"] == "110" }
    }

    @discardableResult
    public func deliver(_ stanza: XMLElement) -> Bool { deliver(stanza, holding: true) }

    private func deliver(_ stanza: XMLElement, holding: Bool) -> Bool {
        enum Route { case connection(NIOLoopBound<AnyObject>), queued, refused }
        let route: Route = state.withLockedValue { state in
            guard !state.closed else { return .refused }
            if holding, state.inactive, state.connection != nil, Self.isHoldable(stanza) {
                let from = stanza[attribute: "from"] ?? ""
                if state.heldPresence[from] != nil {
                    state.heldOrder.removeAll { $0 == from }
                    state.heldOrder.append(from)
                    state.heldPresence[from] = stanza
                    return .queued
                }
                if state.heldPresence.count < Self.maxHeldPresence {
                    state.heldOrder.append(from)
                    state.heldPresence[from] = stanza
                    return .queued
                }
            }
            guard let connection = state.connection else {
                guard state.queued.count < Self.maxQueued else { return .refused }
                state.queued.append(stanza)
                return .queued
            }
            return .connection(connection)
        }
        let target: NIOLoopBound<AnyObject>
        switch route {
        case .connection(let connection): target = connection
        case .queued: return true
        case .refused: return false
        }
        let loop = target.eventLoop
        if loop.inEventLoop {
            (target.value as? any SessionConnection)?.write(stanza: stanza)
        } else {
            loop.execute { (target.value as? any SessionConnection)?.write(stanza: stanza) }
        }
        return true
    }

    /// Whether `connection` is still the one this session writes to. Called on that
    /// connection's loop; a session resumed on another loop is not attached to it.
    static func attached(_ state: State, to connection: AnyObject) -> Bool {
        guard let bound = state.connection, bound.eventLoop.inEventLoop else { return false }
        return bound.value === connection
    }

    enum WriteClaim: Equatable {
        /// Write it; with stream management, `unacked` is the count now awaiting an ack.
        case write(unacked: Int?)
        /// The session moved to another connection: deliver it again.
        case redirect
    }

    /// Checks that `connection` still owns the session and records the stanza for XEP-0198
    /// in the same locked step, so a resumption cannot slip between the two.
    func claimWrite(_ stanza: XMLElement, by connection: AnyObject) -> WriteClaim {
        state.withLockedValue { state in
            guard Self.attached(state, to: connection) else { return .redirect }
            guard state.smEnabled else { return .write(unacked: nil) }
            state.outbound &+= 1
            state.unacked.append((state.outbound, stanza))
            return .write(unacked: state.unacked.count)
        }
    }

    // MARK: Flow control

    /// Whether a stanza delivered now goes out without piling up in front of a connection
    /// that does not keep up (its client reads slowly, or not at all). Deliveries that may
    /// be dropped (live items) wait instead, in a bounded queue of their own, so one stalled
    /// reader costs nothing but that queue. A detached or closed session counts as writable:
    /// deliveries then fail or queue as usual.
    public var isWritable: Bool { state.withLockedValue { $0.writable || $0.connection == nil || $0.closed } }

    /// Calls `body` once the session is writable again — at once if it is, and also when it
    /// is detached or ends, so a waiter never waits for a connection that is gone.
    public func whenWritable(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state -> Bool in
            if state.writable || state.connection == nil || state.closed { return true }
            state.writableWaiters.append(body)
            return false
        }
        if now { body() }
    }

    /// The connection's writability changed (called on its loop, by the attached connection).
    func writabilityChanged(_ writable: Bool, by connection: AnyObject) {
        let waiters = state.withLockedValue { state -> [@Sendable () -> Void] in
            guard Self.attached(state, to: connection) else { return [] }
            state.writable = writable
            return writable ? state.takeWritableWaiters() : []
        }
        for waiter in waiters { waiter() }
    }

    /// Wakes who waits for writability: the session lost its connection or ended.
    func releaseWritableWaiters() {
        let waiters = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.writable = true
            return state.takeWritableWaiters()
        }
        for waiter in waiters { waiter() }
    }

    public var priority: Int { state.withLockedValue { $0.priority } }
    /// Waiting for XEP-0198 resumption: no connection, stanzas held.
    public var isDetached: Bool { state.withLockedValue { $0.detachedDeadline != nil } }
    public var isAvailable: Bool { state.withLockedValue { $0.available && !$0.closed } }
    /// The session ended: nothing is delivered to it any more.
    public var isClosed: Bool { state.withLockedValue { $0.closed } }
    public var presence: XMLElement? { state.withLockedValue { $0.presence } }

    // MARK: XEP-0198 bookkeeping

    func recordInbound() {
        state.withLockedValue { if $0.smEnabled { $0.inbound &+= 1 } }
    }

    /// Drops what the client has acknowledged (`h` is the count of stanzas it handled).
    func acknowledge(_ handled: UInt32) {
        state.withLockedValue { state in
            state.unacked.removeAll { Int32(bitPattern: handled &- $0.sequence) >= 0 }
        }
    }
}
