internal import NIOCore

/// How sessions end: a clean close, a dropped connection (kept for XEP-0198 resumption
/// when the client asked for it), expiry of that wait, or replacement by a new login with
/// the same full JID. Whatever the client never acknowledged is not lost: messages go
/// to another resource of the account or to offline storage.
struct SessionLifecycle {
    let server: XMPPServerContext

    /// The connection of `session` is gone. A clean end (the client closed the stream, or
    /// broke the rules) ends the session; a lost link keeps a resumable one for its window.
    func connectionLost(_ session: Session, connection: AnyObject, clean: Bool, on loop: any EventLoop) {
        let timeout = TimeAmount.seconds(Int64(server.configuration.resumeTimeoutSeconds))
        let deadline = NIODeadline.now() + timeout
        enum Outcome { case elsewhere, detached, ending }
        // One locked step: a resumption on another connection cannot land between the check and the detach.
        let outcome = session.state.withLockedValue { state -> Outcome in
            guard Session.attached(state, to: connection) else { return .elsewhere }
            guard state.resumable, !clean, !state.closed else { return .ending }
            state.connection = nil
            state.detachedDeadline = deadline
            return .detached
        }
        switch outcome {
        case .elsewhere: return
        case .ending: return end(session)
        case .detached: session.releaseWritableWaiters()
        }
        let server = server
        loop.scheduleTask(deadline: deadline) {
            let expired = session.state.withLockedValue { $0.connection == nil && $0.detachedDeadline == deadline && !$0.closed }
            if expired { SessionLifecycle(server: server).end(session) }
        }
    }

    /// A new login took this full JID (RFC 6120 §7.7.2.2): the old stream ends with `conflict`.
    func replaced(_ session: Session) {
        let connection = session.state.withLockedValue { $0.connection }
        end(session, removeFromRegistry: false)
        if let connection {
            connection.eventLoop.execute {
                (connection.value as? C2SConnection)?.fail(StreamError(.conflict, "replaced by a new session with the same resource"))
            }
        }
    }

    func end(_ session: Session, removeFromRegistry: Bool = true) {
        let (wasAvailable, leftovers) = session.state.withLockedValue { state -> (Bool, [XMLElement]) in
            guard !state.closed else { return (false, []) }
            let leftovers = state.unacked.map(\.stanza) + state.queued
            let wasAvailable = state.available
            state.closed = true
            state.available = false
            state.connection = nil
            state.unacked = []
            state.queued = []
            return (wasAvailable, leftovers)
        }
        session.releaseWritableWaiters()
        if removeFromRegistry { server.router.sessions.remove(session) }
        for component in server.router.components.values { component.sessionEnded(session) }
        if wasAvailable {
            let unavailable = XMLElement("presence", namespace: Namespace.client, attributes: [.init("type", "unavailable")])
            _ = server.router.route(unavailable, from: session)
        }
        for stanza in leftovers where stanza.name == "message" && stanza[attribute: "type"] != "error" {
            if let other = server.router.sessions.preferredSessions(of: session.bare).first, other.deliver(stanza) { continue }
            server.router.storeOffline(stanza, for: session.bare, leftBy: session.lane)
        }
    }
}
