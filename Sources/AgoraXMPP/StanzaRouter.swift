internal import AgoraCore
internal import Logging

/// Routes what clients send (RFC 6120 §10, RFC 6121 §8): IQs to the server's handlers or
/// to a resource, messages to full or bare JIDs (offline storage when nobody is there),
/// presence through `PresenceRouter`. The `from` of every stanza is stamped here from the
/// session, so a client can never speak for another address.
///
/// Routing runs on the sending connection's event loop and never waits there: whatever
/// reads or writes the store (IQ handlers not marked `onEventLoop`, offline storage,
/// presence with its roster) is started on `work`, the server's task group.
public final class StanzaRouter: Sendable {
    public let domain: String
    public let sessions: SessionRegistry
    let metrics: XMPPMetrics
    let iq: IQRouter
    /// Services on addresses of their own, by address (`pubsub.<domain>`).
    let components: [String: XMPPComponent]
    let roster: RosterStore
    let offline: OfflineStore
    /// XEP-0191 block lists (nil: blocking is not offered, e.g. the fuzz harness).
    let blockList: BlockList?
    /// XEP-0313 archives (nil: not kept).
    let archive: MessageArchive?
    let accountExists: @Sendable (BareJID) -> Bool
    let logger: Logger
    /// Where everything that waits runs; `XMPPServer.run` owns it.
    let work: ServerWork
    /// Server-to-server links (nil: this gateway does not federate).
    let federation: S2SFederation?
    /// Requests a peer server makes in its own name (from its domain), by payload namespace:
    /// the XEP-0347 registry's `register`/`unregister` from other gateways.
    let serverRequests: [String: ServerRequestHandler]

    init(domain: String, sessions: SessionRegistry, iq: IQRouter, components: [XMPPComponent] = [], roster: RosterStore, offline: OfflineStore,
         blockList: BlockList? = nil, archive: MessageArchive? = nil, accountExists: @escaping @Sendable (BareJID) -> Bool, work: ServerWork,
         federation: S2SFederation? = nil, serverRequests: [String: ServerRequestHandler] = [:], metrics: XMPPMetrics = XMPPMetrics(), logger: Logger) {
        self.work = work
        self.federation = federation
        self.serverRequests = serverRequests
        self.components = Dictionary(components.map { ($0.address, $0) }) { first, _ in first }
        self.metrics = metrics
        self.domain = domain
        self.sessions = sessions
        self.iq = iq
        self.roster = roster
        self.offline = offline
        self.blockList = blockList
        self.archive = archive
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
        metrics.stanza(stanza.name, inbound: true)
        if let blockList, let to {
            let verdict = blocked(stanza, to: to, from: session, blockList: blockList)
            if verdict.blocked { return verdict.reply }
        }
        switch stanza.name {
        case "iq": return routeIQ(stanza, to: to, from: session)
        case "message": return routeMessage(stanza, to: to, from: session)
        case "presence": return PresenceRouter(router: self).route(stanza, to: to, from: session)
        default: return nil
        }
    }

    /// XEP-0191 §3.5–3.6: a stanza to an address the sender blocks, or to an account that
    /// blocks the sender, goes nowhere; messages and IQ requests are answered (`blocked` to
    /// the one who blocks, `service-unavailable` to the blocked, who must not learn of it),
    /// presence is dropped.
    private func blocked(_ stanza: XMLElement, to: JID, from session: Session, blockList: BlockList) -> (blocked: Bool, reply: XMLElement?) {
        let answerable = stanza.name != "presence" && isReplyable(stanza) && stanza[attribute: "type"] != "groupchat"
        if blockList.blocks(session.bare, to) {
            metrics.record { $0.blocked["outbound", default: 0] += 1 }
            return (true, answerable ? BlockingCommand.blockedError().reply(to: stanza) : nil)
        }
        if to.domain == domain, let recipient = to.bare, recipient != session.bare, blockList.blocks(recipient, session.jid) {
            metrics.record { $0.blocked["inbound", default: 0] += 1 }
            return (true, answerable ? StanzaError(.serviceUnavailable, "\(recipient) cannot be reached").reply(to: stanza) : nil)
        }
        return (false, nil)
    }

    /// Whether presence between `session` and `contact` stops at a block list, either way.
    func blockedEitherWay(_ session: Session, _ contact: BareJID) -> Bool {
        guard let blockList else { return false }
        return blockList.blocks(session.bare, JID(contact)) || blockList.blocks(contact, session.jid)
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
        if let component = components[target.domain] {
            guard isRequest else { return nil }
            if target.localpart != nil, let entities = component.entities { return entities(stanza, target, session) }
            guard target.localpart == nil, target.resource == nil else {
                return StanzaError(.serviceUnavailable, "\(component.address) has no entities of its own").reply(to: stanza)
            }
            return dispatch(stanza, to: target, through: component.iq, from: session)
        }
        guard target.domain == domain else { return toRemote(stanza, from: session, replyable: isRequest) }
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
        return dispatch(stanza, to: target, through: iq, from: session)
    }

    /// An IQ request to the server, an account's bare JID or a component: to the handler of
    /// its payload's namespace in `iq`.
    private func dispatch(_ stanza: XMLElement, to target: JID, through iq: IQRouter, from session: Session) -> XMLElement? {
        let type = stanza[attribute: "type"] ?? ""
        var payloads = stanza.elements.makeIterator()
        guard let payload = payloads.next(), payloads.next() == nil else {
            return StanzaError.badRequest("an IQ get or set carries exactly one payload element").reply(to: stanza)
        }
        guard target.resource == nil else { return StanzaError(.serviceUnavailable, "no such resource of the server").reply(to: stanza) }
        guard let route = iq.route(for: payload.namespace),
              target.localpart == nil || (route.forAccounts && (target.bare == session.bare || route.forOtherAccounts)),
              route.forRemote || session.bare.domain == domain
        else {
            // Counted: asking another account for its roster or archive is one way to probe.
            metrics.record { $0.iqErrors[StanzaError.Condition.serviceUnavailable.rawValue, default: 0] += 1 }
            return StanzaError(.serviceUnavailable, "no service for namespace \(payload.namespace.prefix(100)) at \(target)").reply(to: stanza)
        }
        let request = IQRequest(stanza: stanza, payload: payload, from: session.jid, account: session.bare, to: target, isSet: type == "set")
        if route.onEventLoop { return resolve(route.handler(request), for: request, session: session) }
        // The handler reads the store: it runs off the event loop, counted like any asynchronous IQ.
        guard admit(session) else { return refusal(for: request) }
        let handler = route.handler
        return startAdmitted(for: request, session: session) { await self.answer(handler(request), for: request, session: session) }
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

    private func refusal(for request: IQRequest) -> XMLElement {
        metrics.record { $0.iqErrors[StanzaError.Condition.resourceConstraint.rawValue, default: 0] += 1 }
        return StanzaError(.resourceConstraint, "\(Self.maxIQsInFlight) requests of this session are still being answered; wait for their replies")
            .reply(to: request.stanza)
    }

    /// An answer from a handler that ran on the event loop: immediate, or work to start.
    private func resolve(_ reply: IQReply, for request: IQRequest, session: Session) -> XMLElement? {
        switch reply {
        case .result, .error:
            return immediate(reply, for: request)
        case .later:
            guard admit(session) else { return refusal(for: request) }
            return startAdmitted(for: request, session: session) { await self.answer(reply, for: request, session: session) }
        case .resultThen(let payload, let followUp):
            guard admit(session) else { return refusal(for: request) }
            // The job's deliveries go through the session's event loop, behind the result
            // the caller writes on return.
            let send = Self.sender(for: request, session: session)
            return startAdmitted(for: request, session: session, immediately: Self.result(for: request.stanza, from: request.to, payload: payload)) {
                await followUp(send)
            }
        }
    }

    /// Starts an admitted IQ's work on the server's group; returns what to answer at once.
    private func startAdmitted(for request: IQRequest, session: Session, immediately reply: XMLElement? = nil,
                               _ job: @escaping @Sendable () async -> Void) -> XMLElement? {
        let started = work.start {
            defer { self.done(session) }
            await job()
        }
        guard started else {
            done(session)
            return StanzaError(.serviceUnavailable, "the server is shutting down").reply(to: request.stanza)
        }
        return reply
    }

    /// Answers an admitted IQ from its job, however many `later` steps it takes.
    private func answer(_ reply: IQReply, for request: IQRequest, session: Session) async {
        var outcome = reply
        while case .later(let more) = outcome { outcome = await more() }
        if case .resultThen(let payload, let followUp) = outcome {
            session.deliver(Self.result(for: request.stanza, from: request.to, payload: payload))
            await followUp(Self.sender(for: request, session: session))
        } else if let reply = immediate(outcome, for: request) {
            session.deliver(reply)
        }
    }

    private func immediate(_ reply: IQReply, for request: IQRequest) -> XMLElement? {
        switch reply {
        case .result(let payload):
            return Self.result(for: request.stanza, from: request.to, payload: payload)
        case .error(let error):
            metrics.record { $0.iqErrors[error.condition.rawValue, default: 0] += 1 }
            return error.reply(to: request.stanza)
        case .later, .resultThen:
            return nil
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

    /// The result of IQ `stanza`, from `from`; nil `from`: none, as RFC 6120 §8.1.2.1 asks of a
    /// reply the server sends on behalf of the account (a request that had no `to`, such as
    /// resource binding). aioxmpp waits for ever for a bind result `from` the domain.
    static func result(for stanza: XMLElement, from: JID?, payload: XMLElement?) -> XMLElement {
        var reply = XMLElement("iq", namespace: Namespace.client, attributes: [
            .init("type", "result"), .init("id", stanza[attribute: "id"] ?? ""),
        ])
        if let from { reply[attribute: "from"] = from.description }
        if let to = stanza[attribute: "from"] { reply[attribute: "to"] = to }
        if let payload { reply.append(payload) }
        return reply
    }

    // MARK: Messages

    private func routeMessage(_ stanza: XMLElement, to: JID?, from session: Session) -> XMLElement? {
        let type = stanza[attribute: "type"] ?? "normal"
        let target = to ?? JID(session.bare)
        let replyable = type != "error"
        if let component = components[target.domain] {
            if let entities = component.entities { return entities(stanza, target, session) }
            return replyable ? StanzaError(.serviceUnavailable, "\(component.address) takes no messages").reply(to: stanza) : nil
        }
        guard target.domain == domain else {
            if let reply = toRemote(stanza, from: session, replyable: replyable) { return reply }
            if type == "chat" || type == "normal", let account = target.bare {
                MessageCarbons.copy(stanza, from: session, to: account, delivered: [], sessions: sessions)
                archive(stanza, from: session, to: account)
            }
            return nil
        }
        guard let account = target.bare else {
            return replyable ? StanzaError(.serviceUnavailable, "the server itself takes no messages").reply(to: stanza) : nil
        }
        // An online recipient proves the account exists; the store is asked only otherwise.
        if target.resource != nil, let recipient = sessions.session(target), recipient.deliver(stanza) {
            MessageCarbons.copy(stanza, from: session, to: account, delivered: [recipient], sessions: sessions)
            archive(stanza, from: session, to: account)
            return nil
        }
        switch type {
        case "groupchat":
            return StanzaError(.serviceUnavailable, "there is no group chat here").reply(to: stanza)
        case "error":
            return nil
        case "headline":
            for recipient in sessions.preferredSessions(of: account) { recipient.deliver(stanza) }
            return nil
        default:
            if let recipient = sessions.preferredSessions(of: account).first, recipient.deliver(stanza) {
                MessageCarbons.copy(stanza, from: session, to: account, delivered: [recipient], sessions: sessions)
                archive(stanza, from: session, to: account)
                return nil
            }
            MessageCarbons.copy(stanza, from: session, to: account, delivered: [], sessions: sessions)
            let accepted = keepOffline(stanza, for: account, sender: session, unknown: StanzaError(.serviceUnavailable, "no such account")) {
                self.archive(stanza, from: session, to: account)
            }
            return accepted ? nil : StanzaError(.resourceConstraint, "too many of your messages are waiting to be stored; slow down").reply(to: stanza)
        }
    }

    /// Keeps a chat in the archives of its sender and its recipient (XEP-0313), those of
    /// them that are accounts here: a remote party's archive is its own server's business.
    private func archive(_ stanza: XMLElement, from session: Session, to account: BareJID) {
        guard let archive, MessageArchive.isArchivable(stanza), stanza[attribute: "type"] != "groupchat" else { return }
        let owners = account == session.bare ? [(session.bare, session.bare)] : [(session.bare, account), (account, session.bare)]
        let local = owners.filter { $0.0.domain == domain }.map { ($0.0.description, $0.1.description) }
        guard !local.isEmpty else { return }
        archive.record(stanza, for: local, work: work)
    }

    /// A message a component sends an account on behalf of `sender` (a room's invitation):
    /// to its preferred resource, or kept offline like a message `sender` sent, within the
    /// same bounds; a refusal is told to `sender`.
    func deliverFromService(_ stanza: XMLElement, to account: BareJID, chargedTo sender: Session) {
        if let recipient = sessions.preferredSessions(of: account).first, recipient.deliver(stanza) { return }
        if !keepOffline(stanza, for: account, sender: sender, unknown: StanzaError(.itemNotFound, "there is no account \(account) to invite")) {
            sender.deliver(StanzaError(.resourceConstraint, "too much of your work is waiting; the invitation was not sent").reply(to: stanza))
        }
    }

    /// Keeps `stanza` for `account` in `sender`'s lane: whether the account exists is a store
    /// read, so it happens there, before the store, and the sender's offline messages keep
    /// their order. An unknown account is answered `unknown`; `then` runs once it is known.
    /// Returns false (counted) when the lane is full.
    private func keepOffline(_ stanza: XMLElement, for account: BareJID, sender: Session, unknown: StanzaError,
                             then: @escaping @Sendable () -> Void = {}) -> Bool {
        let accepted = sender.lane.start({
            guard self.accountExists(account) else {
                sender.deliver(unknown.reply(to: stanza))
                return
            }
            then()
            await self.storeOffline(stanza, for: account, sender: sender)
        }, on: work)
        if !accepted { metrics.record { $0.offlineRefused["lane", default: 0] += 1 } }
        return accepted
    }

    /// Keeps a chat or normal message for the account's next login, stamped with XEP-0203 delay,
    /// as a job in `lane` (the ended session's, for what it leaves behind); see `isWorthKeeping`.
    func storeOffline(_ stanza: XMLElement, for account: BareJID, leftBy lane: SerialLane) {
        guard Self.isWorthKeeping(stanza) else { return }
        let accepted = lane.start({ await self.storeOffline(stanza, for: account, sender: nil) }, on: work)
        if !accepted {
            logger.error("a message put back for a closed session was not stored: the server is stopping or the session's lane is full",
                         metadata: ["account": "\(account)"])
        }
    }

    /// Stores one message (in a job); a refusal goes back to `sender`, if it is still there.
    /// Messages kept offline: those with a body, and direct invitations to rooms (XEP-0249),
    /// which have none; chat states and receipts are not worth keeping.
    static func isWorthKeeping(_ stanza: XMLElement) -> Bool {
        stanza.child("body") != nil || stanza.child("x", namespace: "jabber:x:conference") != nil
    }

    private func storeOffline(_ stanza: XMLElement, for account: BareJID, sender: Session?) async {
        guard Self.isWorthKeeping(stanza) else { return }
        var stored = stanza
        stored.append(XMLElement("delay", namespace: Namespace.delay, attributes: [.init("from", domain), .init("stamp", Timestamp.now().rfc3339)]))
        do {
            try await offline.store(stored, for: account, from: sender?.bare)
            // The recipient may have come online while this was being written: deliver in its
            // lane, behind the delivery its initial presence started, so nothing goes twice.
            if let online = sessions.preferredSessions(of: account).first {
                _ = online.lane.start({ await self.deliverOffline(to: online) }, on: work)
            }
        } catch let refusal as OfflineStore.Refusal {
            metrics.record { $0.offlineRefused[refusal.bound.rawValue, default: 0] += 1 }
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

    /// Hands queued offline messages to a session that just became available, then deletes
    /// them. Runs in a job: it reads and writes the store.
    func deliverOffline(to session: Session) async {
        let pending = offline.pending(for: session.bare)
        guard !pending.isEmpty else { return }
        var reader = StoredStanzaReader()
        var delivered: [[UInt8]] = []
        for (key, bytes) in pending {
            for var stanza in reader.stanzas(in: bytes) {
                stanza[attribute: "to"] = session.jid.description
                session.deliver(stanza)
            }
            delivered.append(key)
        }
        do { try await offline.remove(delivered) } catch {
            logger.error("delivered offline messages not removed", metadata: ["error": "\(error)"])
        }
    }
}
