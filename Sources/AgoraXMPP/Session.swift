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
public final class Session: @unchecked Sendable {
    public let jid: JID
    /// `jid` as text, stamped as `from` on everything this session sends.
    public let jidText: String
    public let bare: BareJID
    /// The XEP-0198 resumption id.
    public let streamID: String

    struct State {
        var connection: NIOLoopBound<AnyObject>?
        var detachedDeadline: NIODeadline?
        var closed = false
        var priority = 0
        var available = false
        var presence: XMLElement?
        var requestedRoster = false
        var offlineDelivered = false
        // XEP-0198.
        var smEnabled = false
        var resumable = false
        var inbound: UInt32 = 0
        var outbound: UInt32 = 0
        /// Sent but not yet acknowledged, with the outbound count each one raised.
        var unacked: [(sequence: UInt32, stanza: XMLElement)] = []
        /// Arrived while detached.
        var queued: [XMLElement] = []
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
        state.withLockedValue {
            $0.connection = bound
            $0.detachedDeadline = nil
        }
    }

    /// Routes `stanza` to this session's client. Returns false when the session is closed
    /// (the caller then treats the recipient as gone).
    @discardableResult
    public func deliver(_ stanza: XMLElement) -> Bool {
        let target: NIOLoopBound<AnyObject>? = state.withLockedValue { state in
            guard !state.closed else { return nil }
            guard let connection = state.connection else {
                if state.queued.count < Self.maxQueued { state.queued.append(stanza) }
                return nil
            }
            return connection
        }
        guard let target else { return !state.withLockedValue { $0.closed } }
        let loop = target.eventLoop
        if loop.inEventLoop {
            (target.value as? any SessionConnection)?.write(stanza: stanza)
        } else {
            loop.execute { (target.value as? any SessionConnection)?.write(stanza: stanza) }
        }
        return true
    }

    /// Whether `connection` is still the one this session writes to.
    func isAttached(to connection: AnyObject) -> Bool {
        state.withLockedValue { state in
            guard let bound = state.connection else { return false }
            return bound.eventLoop.inEventLoop && bound.value === connection
        }
    }

    public var priority: Int { state.withLockedValue { $0.priority } }
    public var isAvailable: Bool { state.withLockedValue { $0.available && !$0.closed } }
    public var presence: XMLElement? { state.withLockedValue { $0.presence } }

    // MARK: XEP-0198 bookkeeping

    func recordOutbound(_ stanza: XMLElement) -> UInt32? {
        state.withLockedValue { state in
            guard state.smEnabled else { return nil }
            state.outbound &+= 1
            state.unacked.append((state.outbound, stanza))
            return UInt32(state.unacked.count)
        }
    }

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
