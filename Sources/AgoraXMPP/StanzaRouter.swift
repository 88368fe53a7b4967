internal import AgoraCore
internal import Logging
internal import NIOConcurrencyHelpers

/// Routes what clients send (RFC 6120 §10, RFC 6121 §8): IQs to the server's handlers or
/// to a resource, messages to full or bare JIDs (offline storage when nobody is there),
/// presence through `PresenceRouter`. The `from` of every stanza is stamped here from the
/// session, so a client can never speak for another address.
public final class StanzaRouter: Sendable {
    public let domain: String
    public let sessions: SessionRegistry
    let metrics: XMPPMetrics
    let iq: IQRouter
    let roster: RosterStore
    let offline: OfflineStore
    let accountExists: @Sendable (BareJID) -> Bool
    let logger: Logger
    /// Offline writes still in flight; shutdown waits for them.
    private let offlineWrites = NIOLockedValueBox(0)

    init(domain: String, sessions: SessionRegistry, iq: IQRouter, roster: RosterStore, offline: OfflineStore,
         accountExists: @escaping @Sendable (BareJID) -> Bool, metrics: XMPPMetrics = XMPPMetrics(), logger: Logger) {
        self.metrics = metrics
        self.domain = domain
        self.sessions = sessions
        self.iq = iq
        self.roster = roster
        self.offline = offline
        self.accountExists = accountExists
        self.logger = logger
    }

    /// Routes one stanza from `session`'s client. Returns an immediate reply for that client
    /// (an IQ result or a stanza error); later replies arrive through `session.deliver`.
    func route(_ incoming: XMLElement, from session: Session) -> XMLElement? {
        var stanza = incoming
        stanza.namespace = Namespace.client
        stanza[attribute: "from"] = session.jidText
        var to: JID?
        if let text = stanza[attribute: "to"] {
            do { to = text == domain ? JID(domain: domain) : try JID(parsing: text) } catch {
                return isReplyable(stanza) ? StanzaError(.jidMalformed, "the 'to' address is not a valid JID: \(error.reason)").reply(to: stanza) : nil
            }
        }
        switch stanza.name {
        case "iq": return routeIQ(stanza, to: to, from: session)
        case "message": return routeMessage(stanza, to: to, from: session)
        case "presence": return PresenceRouter(router: self).route(stanza, to: to, from: session)
        default: return nil
        }
    }

    private func isReplyable(_ stanza: XMLElement) -> Bool {
        let type = stanza[attribute: "type"]
        return type != "error" && type != "result"
    }

    // MARK: IQ

    private func routeIQ(_ stanza: XMLElement, to: JID?, from session: Session) -> XMLElement? {
        let type = stanza[attribute: "type"] ?? ""
        switch type {
        case "get", "set", "result", "error": break
        default: return StanzaError.badRequest("an IQ needs type get, set, result or error").reply(to: stanza)
        }
        let isRequest = type == "get" || type == "set"
        if isRequest, stanza[attribute: "id"] == nil { return StanzaError.badRequest("an IQ request needs an id").reply(to: stanza) }
        let target = to ?? JID(session.bare)
        guard target.domain == domain else {
            return isRequest ? StanzaError(.remoteServerNotFound, "this server does not federate; only \(domain) is served").reply(to: stanza) : nil
        }
        if target.localpart != nil, target.resource != nil {
            if type == "set", target.bare != session.bare, stanza.elements.contains(where: { $0.namespace == Namespace.roster }) {
                // Only the server pushes roster changes (RFC 6121 §2.1.6); a user cannot forge one.
                // Every child is checked: a client reads the roster query wherever it sits, so
                // one hidden behind a decoy first child is still a forged push.
                return StanzaError.forbidden("roster pushes come from the server only").reply(to: stanza)
            }
            if let recipient = sessions.session(target), recipient.deliver(stanza) { return nil }
            return isRequest ? StanzaError(.serviceUnavailable, "\(target) is not online").reply(to: stanza) : nil
        }
        guard isRequest else { return nil }  // Results for the server itself (e.g. roster pushes) need no action.
        var payloads = stanza.elements.makeIterator()
        guard let payload = payloads.next(), payloads.next() == nil else {
            return StanzaError.badRequest("an IQ get or set carries exactly one payload element").reply(to: stanza)
        }
        guard target.resource == nil else { return StanzaError(.serviceUnavailable, "no such resource of the server").reply(to: stanza) }
        guard let route = iq.route(for: payload.namespace),
              target.localpart == nil || (route.forAccounts && target.bare == session.bare)
        else {
            return StanzaError(.serviceUnavailable, "no service for namespace \(payload.namespace.prefix(100)) at \(target)").reply(to: stanza)
        }
        let request = IQRequest(stanza: stanza, payload: payload, from: session.jid, account: session.bare, to: target, isSet: type == "set")
        return resolve(route.handler(request), for: request, session: session)
    }

    /// Asynchronous IQs one session may have in progress: a client cannot queue unbounded
    /// work (scans, proof pages, read-outs) by not waiting for its replies.
    static let maxIQsInFlight = 16

    /// Counts an asynchronous IQ in for `session`, or answers why not.
    private func admit(_ session: Session) -> Bool {
        session.state.withLockedValue { state in
            guard state.iqsInFlight < Self.maxIQsInFlight else { return false }
            state.iqsInFlight += 1
            return true
        }
    }

    private func done(_ session: Session) {
        session.state.withLockedValue { $0.iqsInFlight -= 1 }
    }

    private func resolve(_ reply: IQReply, for request: IQRequest, session: Session) -> XMLElement? {
        switch reply {
        case .later, .resultThen:
            guard admit(session) else {
                metrics.record { $0.iqErrors[StanzaError.Condition.resourceConstraint.rawValue, default: 0] += 1 }
                return StanzaError(.resourceConstraint, "\(Self.maxIQsInFlight) requests of this session are still being answered; wait for their replies")
                    .reply(to: request.stanza)
            }
            return resolveAdmitted(reply, for: request, session: session)
        case .result, .error:
            return resolveAdmitted(reply, for: request, session: session)
        }
    }

    private func resolveAdmitted(_ reply: IQReply, for request: IQRequest, session: Session) -> XMLElement? {
        switch reply {
        case .result(let payload):
            return Self.result(for: request.stanza, from: request.to, payload: payload)
        case .error(let error):
            metrics.record { $0.iqErrors[error.condition.rawValue, default: 0] += 1 }
            return error.reply(to: request.stanza)
        case .later(let work):
            let logger = logger
            Task {
                defer { self.done(session) }
                var outcome = await work()
                while case .later(let more) = outcome { outcome = await more() }
                if case .resultThen(let payload, let followUp) = outcome {
                    session.deliver(Self.result(for: request.stanza, from: request.to, payload: payload))
                    await followUp(Self.sender(for: request, session: session))
                } else if let reply = self.resolveAdmitted(outcome, for: request, session: session) {
                    session.deliver(reply)
                } else {
                    logger.debug("asynchronous IQ produced no reply")
                }
            }
            return nil
        case .resultThen(let payload, let followUp):
            // The task's deliveries go through the session's event loop, behind the result
            // the caller writes on return.
            let send = Self.sender(for: request, session: session)
            Task {
                defer { self.done(session) }
                await followUp(send)
            }
            return Self.result(for: request.stanza, from: request.to, payload: payload)
        }
    }

    /// Sends follow-up stanzas of an IQ to its requester, from the IQ's addressee.
    private static func sender(for request: IQRequest, session: Session) -> @Sendable (XMLElement) -> Bool {
        let from = request.to.description, to = request.from.description
        return { stanza in
            var stanza = stanza
            stanza[attribute: "from"] = from
            stanza[attribute: "to"] = to
            return session.deliver(stanza)
        }
    }

    static func result(for stanza: XMLElement, from: JID, payload: XMLElement?) -> XMLElement {
        var reply = XMLElement("iq", namespace: Namespace.client, attributes: [
            .init("type", "result"), .init("id", stanza[attribute: "id"] ?? ""), .init("from", from.description),
        ])
        if let to = stanza[attribute: "from"] { reply[attribute: "to"] = to }
        if let payload { reply.append(payload) }
        return reply
    }

    // MARK: Messages

    private func routeMessage(_ stanza: XMLElement, to: JID?, from session: Session) -> XMLElement? {
        let type = stanza[attribute: "type"] ?? "normal"
        let target = to ?? JID(session.bare)
        let replyable = type != "error"
        guard target.domain == domain else {
            return replyable ? StanzaError(.remoteServerNotFound, "this server does not federate; only \(domain) is served").reply(to: stanza) : nil
        }
        guard let account = target.bare else {
            return replyable ? StanzaError(.serviceUnavailable, "the server itself takes no messages").reply(to: stanza) : nil
        }
        // An online recipient proves the account exists; the store is asked only otherwise.
        if target.resource != nil, let recipient = sessions.session(target), recipient.deliver(stanza) { return nil }
        switch type {
        case "groupchat":
            return StanzaError(.serviceUnavailable, "there is no group chat here").reply(to: stanza)
        case "error":
            return nil
        case "headline":
            for recipient in sessions.preferredSessions(of: account) { recipient.deliver(stanza) }
            return nil
        default:
            if let recipient = sessions.preferredSessions(of: account).first, recipient.deliver(stanza) { return nil }
            guard accountExists(account) else {
                return StanzaError(.serviceUnavailable, "no such account").reply(to: stanza)
            }
            storeOffline(stanza, for: account, sender: session)
            return nil
        }
    }

    /// Keeps a chat or normal message for the account's next login, stamped with XEP-0203 delay.
    /// Messages without a body (chat states, receipts) are not worth keeping.
    func storeOffline(_ stanza: XMLElement, for account: BareJID, sender: Session?) {
        guard stanza.child("body") != nil else { return }
        var stored = stanza
        stored.append(XMLElement("delay", namespace: Namespace.delay, attributes: [.init("from", domain), .init("stamp", Timestamp.now().rfc3339)]))
        let offline = offline
        let logger = logger
        offlineWrites.withLockedValue { $0 += 1 }
        Task {
            defer { self.offlineWrites.withLockedValue { $0 -= 1 } }
            do {
                try await offline.store(stored, for: account, from: sender?.bare)
                // The recipient may have come online while this was being written.
                if let online = self.sessions.preferredSessions(of: account).first { self.deliverOffline(to: online) }
            } catch let refusal as OfflineStore.Refusal {
                self.metrics.record { $0.offlineRefused[refusal.bound.rawValue, default: 0] += 1 }
                if let sender {
                    sender.deliver(refusal.stanzaError.reply(to: stanza))
                } else {
                    logger.warning("a message put back for a closed session did not fit in offline storage",
                                   metadata: ["account": "\(account)", "offline.bound": "\(refusal.bound.rawValue)"])
                }
            } catch let error as StanzaError {
                sender?.deliver(error.reply(to: stanza))
            } catch {
                logger.error("offline message not stored", metadata: ["account": "\(account)", "error": "\(error)"])
                sender?.deliver(StanzaError(.internalServerError, "the message could not be stored").reply(to: stanza))
            }
        }
    }

    /// Waits until every offline write started so far is durable (or `timeout` passes).
    func drainOfflineWrites(timeout: Duration) async {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while offlineWrites.withLockedValue({ $0 }) > 0, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Hands queued offline messages to a session that just became available, then deletes them.
    func deliverOffline(to session: Session) {
        let pending = offline.pending(for: session.bare)
        guard !pending.isEmpty else { return }
        // The stored stanzas are parsed as one stream, by one parser.
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        _ = parser.feed(Array("<s xmlns='jabber:client'>".utf8), into: &events)
        var delivered: [[UInt8]] = []
        for (key, bytes) in pending {
            events.removeAll(keepingCapacity: true)
            _ = parser.feed(bytes, into: &events)
            for case .element(var stanza) in events {
                stanza[attribute: "to"] = session.jid.description
                session.deliver(stanza)
            }
            delivered.append(key)
        }
        let offline = offline
        let logger = logger
        Task {
            do { try await offline.remove(delivered) } catch {
                logger.error("delivered offline messages not removed", metadata: ["error": "\(error)"])
            }
        }
    }
}
