internal import AgoraCore
internal import Logging
internal import NIOCore

/// Federation's inbound side: what an authenticated peer sends, handed to the router as its
/// remote sender's (see `S2SInboundLink`), and the end of a stream's senders.
extension S2SFederation {
    /// The inbound stream of `link` ended: its remote senders are gone (rooms they were in
    /// see them leave); a new stream from the peer makes new ones.
    func endSenders(of link: S2SInboundLink) { end(link.takeSenders()) }

    private func end(_ senders: [Session]) {
        for session in senders {
            session.state.withLockedValue { state in
                state.closed = true
                state.available = false
                state.connection = nil
            }
            for component in router.components.values { component.sessionEnded(session) }
        }
    }

    /// A stanza an authenticated peer sent on `link`: routed as its sender's.
    func received(_ incoming: XMLElement, on link: S2SInboundLink, loop: any EventLoop) {
        metrics.record { $0.s2sStanzas["inbound", default: 0] += 1 }
        guard admitStanza(from: link.domain) else {
            // Dropped and counted, not answered: one error per refused stanza would let a
            // flood make this gateway send as much back.
            metrics.record { $0.s2sRefused["rate", default: 0] += 1 }
            return
        }
        var stanza = incoming
        stanza.renamespace(from: Namespace.server, to: Namespace.client)
        stanza[attribute: S2SOutboundConnection.resent] = nil   // ours alone; a peer's means nothing
        guard let from = stanza[attribute: "from"].flatMap({ try? JID(parsing: $0) }) else { return }
        guard let bare = from.bare else {
            // From the peer server itself: its requests (a ping, a disco query) the router
            // answers; its answers (to our users' pings) and errors go to their addressee.
            let type = stanza[attribute: "type"]
            if stanza.name == "iq", type == "get" || type == "set" {
                if let reply = router.routeFromServer(stanza, from: from) { send(reply) }
            } else if stanza[attribute: "to"] == domain {
                // An answer to what the server itself sent (a registration): only errors matter.
                if type == "error" {
                    let condition = stanza.child("error")?.elements.first { $0.namespace == Namespace.stanzaErrors }?.name ?? "undefined-condition"
                    metrics.record { $0.s2sRefused["by_peer", default: 0] += 1 }
                    let (allowed, suppressed) = refusalLog.spend()
                    if allowed {
                        logger.notice("a peer server refused a request of this server", metadata: [
                            "peer": "\(link.domain)", "id": "\(stanza[attribute: "id"]?.prefix(64) ?? "")", "condition": "\(condition.prefix(64))",
                            "suppressed_since_last": "\(suppressed)",
                        ])
                    }
                }
            } else if (stanza.name == "iq" && type == "result") || type == "error" {
                router.deliverLocally(stanza)   // answers to our users' requests (a pong, a bounce)
            } else {
                metrics.record { $0.s2sRefused["server_sender", default: 0] += 1 }  // a server chats with nobody
            }
            return
        }
        let (session, evicted) = link.sender(from) {
            let session = Session(jid: from, bare: bare, streamID: "s2s")
            session.attach(RemoteReplies(federation: self), on: loop)
            return session
        }
        if let evicted { end([evicted]) }
        if let reply = router.route(stanza, from: session) { send(reply) }
    }
}
