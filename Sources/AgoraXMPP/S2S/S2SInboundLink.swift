internal import AgoraCore
internal import NIOConcurrencyHelpers
internal import NIOCore

/// An authenticated inbound server-to-server stream: the peer domain it speaks for, the
/// domains it may address, and the remote senders seen on it. (Its stanza rate is the peer
/// domain's, shared by all its streams: `S2SFederation.admitStanza`.)
///
/// Each remote full JID that sends here is a `Session` of its own — not in the routing table,
/// attached to a `RemoteReplies` connection that sends over the outbound link to the peer —
/// so the router serves a remote account exactly as a local one (its stamped `from`, its
/// bound on IQs in progress, its ordered lane) and answers reach it through federation.
///
/// `@unchecked Sendable`: `domain` and `served` are immutable; `state` is a lock-protected box.
final class S2SInboundLink: @unchecked Sendable {
    let domain: String
    private let served: Set<String>
    private let maxSenders: Int

    private struct State {
        var senders: [String: Session] = [:]
        var order: [String] = []
    }

    private let state: NIOLockedValueBox<State>

    init(domain: String, served: Set<String>, maxSenders: Int) {
        self.domain = domain
        self.served = served
        self.maxSenders = maxSenders
        state = NIOLockedValueBox(State())
    }

    /// Whether `domain` is one this server answers for (its own or a component's).
    func serves(_ domain: String) -> Bool { served.contains(domain) }


    /// The session that stands for `jid` (a remote account's full or bare JID), and the
    /// oldest one when it had to go to make room (beyond `maxSenders`): the caller ends it,
    /// so rooms see it leave; it holds nothing durable, and a new one replaces it.
    func sender(_ jid: JID, make: () -> Session) -> (Session, evicted: Session?) {
        let key = jid.description
        return state.withLockedValue { state in
            if let known = state.senders[key] { return (known, nil) }
            let session = make()
            state.senders[key] = session
            state.order.append(key)
            guard state.order.count > maxSenders else { return (session, nil) }
            let oldest = state.order.removeFirst()
            return (session, state.senders.removeValue(forKey: oldest))
        }
    }

    /// Every remote sender of this link, to end when it goes.
    func takeSenders() -> [Session] {
        state.withLockedValue { state in
            defer { state.senders = [:]; state.order = [] }
            return Array(state.senders.values)
        }
    }
}

/// Where a remote sender's replies go: through federation to the peer's domain.
final class RemoteReplies: SessionConnection {
    let federation: S2SFederation

    init(federation: S2SFederation) { self.federation = federation }

    func write(stanza: XMLElement) { federation.send(stanza) }
    func abandon() {}
}
