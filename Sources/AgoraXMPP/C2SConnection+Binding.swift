internal import AgoraCore
internal import NIOCore

/// Resource binding (RFC 6120 §7) and XEP-0198 stream management: enabling it and resuming
/// a session on a new connection. Each ends by telling the machine the session is bound.
extension C2SConnection {
    func bind(_ iq: XMLElement, account: BareJID) {
        guard let context else { return }
        guard server.router.sessions.count < server.configuration.maxSessions else {
            return fail(StreamError(.resourceConstraint, "the server has reached its session limit"))
        }
        let requested = iq.child("bind", namespace: Namespace.bind)?.child("resource")?.text
        let resource: String
        if let requested, !requested.isEmpty {
            guard JID.isValidResource(requested) else {
                return write(stanza: StanzaError(.badRequest, "the resource must be 1…1023 bytes without control characters").reply(to: iq))
            }
            resource = requested
        } else {
            resource = "agora-" + String(SCRAMServer.randomNonce().filter { $0.isLetter || $0.isNumber }.prefix(12))
        }
        if server.router.sessions.sessions(of: account).count >= server.configuration.maxResourcesPerAccount {
            return write(stanza: StanzaError(.resourceConstraint, "this account has \(server.configuration.maxResourcesPerAccount) sessions already").reply(to: iq))
        }
        let jid = JID(account, resource: resource)
        let session = Session(jid: jid, bare: account, streamID: SCRAMServer.randomNonce())
        session.attach(self, on: context.eventLoop)
        if let replaced = server.router.sessions.add(session) {
            SessionLifecycle(server: server).replaced(replaced)
        }
        do { try machine.bound(session) } catch { return fail(error) }
        negotiationTimer?.cancel()
        write(stanza: StanzaRouter.result(for: iq, from: replyAddress(for: iq), payload: XMLElement("bind", namespace: Namespace.bind, children: [
            .element(XMLElement("jid", namespace: Namespace.bind, text: jid.description)),
        ])))
    }

    func enableStreamManagement(resume: Bool, session: Session) {
        let alreadyEnabled = session.state.withLockedValue { state -> Bool in
            if state.smEnabled { return true }
            state.smEnabled = true
            state.resumable = resume && server.configuration.resumeTimeoutSeconds > 0
            return false
        }
        guard !alreadyEnabled else {
            return write(streamManagementFailure(.unexpectedRequest, nil))
        }
        var enabled = XMLElement("enabled", namespace: Namespace.streamManagement)
        if resume && server.configuration.resumeTimeoutSeconds > 0 {
            enabled[attribute: "id"] = session.streamID
            enabled[attribute: "resume"] = "true"
            enabled[attribute: "max"] = String(server.configuration.resumeTimeoutSeconds)
        }
        write(enabled)
    }

    func resume(previd: String, handled: UInt32, account: BareJID) {
        guard let context else { return }
        func failed(_ text: String) {
            write(streamManagementFailure(.itemNotFound, text))
        }
        guard let session = server.router.sessions.session(streamID: previd), session.bare == account,
              session.state.withLockedValue({ $0.resumable && !$0.closed }) else {
            return failed("no resumable session with that id")
        }
        // Take over in one step: from here on every delivery comes to this connection.
        let bound = NIOLoopBound<AnyObject>(self, eventLoop: context.eventLoop)
        let takeover = session.state.withLockedValue { state -> (NIOLoopBound<AnyObject>?, UInt32, [XMLElement], [XMLElement])? in
            guard state.resumable, !state.closed else { return nil }  // expired since the lookup
            let previous = state.connection
            state.unacked.removeAll { Int32(bitPattern: handled &- $0.sequence) >= 0 }
            let queued = state.queued
            state.queued = []
            state.connection = bound
            state.detachedDeadline = nil
            return (previous, state.inbound, state.unacked.map(\.stanza), queued)
        }
        guard let (previous, inbound, unacked, queued) = takeover else { return failed("the session expired") }
        server.logger.debug("stream resumed", metadata: ["xmpp.handled": "\(handled)", "xmpp.resent": "\(unacked.count)",
                                                          "xmpp.queued": "\(queued.count)", "xmpp.previous_attached": "\(previous != nil)"])
        if let previous {
            previous.eventLoop.execute { (previous.value as? any SessionConnection)?.abandon() }
        }
        do { try machine.bound(session) } catch { return fail(error) }
        negotiationTimer?.cancel()
        server.metrics.record { $0.resumptions += 1 }
        write(XMLElement("resumed", namespace: Namespace.streamManagement, attributes: [.init("previd", previd), .init("h", String(inbound))]))
        for stanza in unacked { writeBytes(stanza) }
        for stanza in queued { write(stanza: stanza) }
    }
}

extension C2SConnection {
    /// Who a negotiation reply (bind, legacy session) is from: the domain when the client
    /// addressed it, and otherwise nobody (RFC 6120 §8.1.2.1: the server answers on behalf of
    /// the account, so `from` is absent or the account's bare JID, never the domain).
    func replyAddress(for iq: XMLElement) -> JID? {
        iq[attribute: "to"] == nil ? nil : JID(domain: server.domain)
    }
}
