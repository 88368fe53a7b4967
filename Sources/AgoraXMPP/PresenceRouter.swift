internal import AgoraCore

/// Presence (RFC 6121 §3–4): broadcast of a user's availability to the contacts whose
/// subscription allows it, directed presence, and the four subscription stanzas, which
/// also change both parties' rosters (durably, before anything is delivered).
///
/// What reads or writes rosters runs in the sending session's lane on the server's work,
/// never on the event loop, and in the order the client sent it.
struct PresenceRouter {
    let router: StanzaRouter

    /// Subscription requests from other domains waiting in one account's roster at most.
    static let maxRemoteRequests = 100

    func route(_ stanza: XMLElement, to: JID?, from session: Session) -> XMLElement? {
        let type = stanza[attribute: "type"]
        switch type {
        case nil, "unavailable":
            if let to, let component = router.components[to.domain] {
                return component.entities?(stanza, to, session)
            }
            if let to { directed(stanza, to: to, from: session) } else { broadcast(stanza, from: session, available: type == nil) }
        case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
            guard let to, let contact = to.bare, to.domain == router.domain || (isLocal(session.bare) && router.federation != nil) else {
                return nil  // RFC 6121 §3.1.3: silently ignore requests to nobody.
            }
            let kind = type!
            let started = session.lane.start({
                guard !isLocal(contact) || router.accountExists(contact) else { return }  // nobody: ignored as above
                await subscription(kind, from: session, to: contact, stanza: stanza)
            }, on: router.work)
            if !started { router.metrics.record { $0.presenceDropped += 1 } }
        case "error":
            if let to, let component = router.components[to.domain] { return component.entities?(stanza, to, session) }
            if let to { directed(stanza, to: to, from: session) }
        case "probe":
            // RFC 6121 §4.3.2: a contact's server asks for the presence it is subscribed to.
            guard !isLocal(session.bare), let to, let account = to.bare, isLocal(account) else { return nil }
            let prober = session.bare
            let started = session.lane.start({ answerProbe(from: prober, to: account) }, on: router.work)
            if !started { router.metrics.record { $0.presenceDropped += 1 } }
        default:
            break  // anything else is not a presence type.
        }
        return nil
    }

    /// Whether `account` is one of this server's (not a contact on a federated server).
    private func isLocal(_ account: BareJID) -> Bool { account.domain == router.domain }

    /// Sends `account`'s current presence to `prober` when its subscription allows it.
    private func answerProbe(from prober: BareJID, to account: BareJID) {
        guard router.roster.item(of: account, contact: prober)?.subscription.hasFrom == true,
              !(router.blockList?.blocks(account, JID(prober)) ?? false) else { return }
        for session in router.sessions.sessions(of: account) where session.isAvailable {
            guard var presence = session.presence else { continue }
            presence[attribute: "from"] = session.jid.description
            presence[attribute: "to"] = prober.description
            deliverToAvailable(presence, account: prober)
        }
    }

    private func directed(_ stanza: XMLElement, to: JID, from session: Session) {
        if to.domain != router.domain {
            _ = router.toRemote(stanza, from: session, replyable: false)
            return
        }
        guard let account = to.bare else { return }
        if to.resource != nil {
            router.sessions.session(to)?.deliver(stanza)
        } else {
            for session in router.sessions.sessions(of: account) where session.isAvailable { session.deliver(stanza) }
        }
    }

    /// Broadcast presence: to the user's other resources and to every contact with a `from`
    /// subscription. The first available presence also fetches the contacts' presence
    /// (the probe of §4.3), pending subscription requests and offline messages.
    ///
    /// The session's own state changes at once (routing sees it available); the fan-out reads
    /// the roster, so it runs in the session's lane.
    private func broadcast(_ stanza: XMLElement, from session: Session, available: Bool) {
        let priority = Int(stanza.child("priority")?.text ?? "0").map { max(-128, min(127, $0)) } ?? 0
        let initial = session.state.withLockedValue { state -> Bool in
            let initial = available && !state.available
            state.available = available
            state.priority = priority
            state.presence = available ? stanza : nil
            return initial
        }
        // Unavailable to everyone is also unavailable to the rooms it is in (RFC 6121 §4.5.2).
        if !available { for component in router.components.values { component.sessionEnded(session) } }
        let started = session.lane.start({ await fanOut(stanza, from: session, initial: initial, priority: priority) }, on: router.work)
        if !started { router.metrics.record { $0.presenceDropped += 1 } }
    }

    private func fanOut(_ stanza: XMLElement, from session: Session, initial: Bool, priority: Int) async {
        let items = router.roster.items(of: session.bare)
        for other in router.sessions.sessions(of: session.bare) where other !== session && other.isAvailable {
            other.deliver(stanza)
        }
        for item in items where item.subscription.hasFrom && !router.blockedEitherWay(session, item.contact) {
            if !isLocal(item.contact) {
                // A federated contact: its server fans out to its resources (RFC 6121 §4.2.2).
                var copy = stanza
                copy[attribute: "to"] = item.contact.description
                _ = router.toRemote(copy, from: session, replyable: false)
                continue
            }
            for contact in router.sessions.sessions(of: item.contact) where contact.isAvailable {
                var copy = stanza
                copy[attribute: "to"] = contact.jid.description
                contact.deliver(copy)
            }
        }
        guard initial else { return }
        for item in items {
            if item.subscription.hasTo, !isLocal(item.contact), !router.blockedEitherWay(session, item.contact) {
                _ = router.toRemote(XMLElement("presence", namespace: Namespace.client, attributes: [
                    .init("type", "probe"), .init("from", session.bare.description), .init("to", item.contact.description),
                ]), from: session, replyable: false)
            } else if item.subscription.hasTo, !router.blockedEitherWay(session, item.contact) {
                for contact in router.sessions.sessions(of: item.contact) where contact.isAvailable {
                    if var presence = contact.presence {
                        presence[attribute: "from"] = contact.jid.description
                        presence[attribute: "to"] = session.jid.description
                        session.deliver(presence)
                    }
                }
            }
            if item.pendingIn {
                session.deliver(XMLElement("presence", namespace: Namespace.client, attributes: [
                    .init("type", "subscribe"), .init("from", item.contact.description), .init("to", session.bare.description),
                ]))
            }
        }
        for other in router.sessions.sessions(of: session.bare) where other !== session && other.isAvailable {
            if var presence = other.presence {
                presence[attribute: "to"] = session.jid.description
                session.deliver(presence)
            }
        }
        if priority >= 0 {
            await router.deliverOffline(to: session)
            for component in router.components.values { await component.sessionAvailable(session) }
        }
    }

    /// One subscription stanza from `session`'s user to `contact` (RFC 6121 §3.1–3.3).
    private func subscription(_ type: String, from session: Session, to contact: BareJID, stanza: XMLElement) async {
        let user = session.bare
        var outgoing = stanza
        outgoing[attribute: "from"] = user.description
        outgoing[attribute: "to"] = contact.description
        do {
            switch type {
            case "subscribe":
                let mine = try await update(user, contact) { $0.subscription.hasTo ? $0 : with($0) { $0.askSubscribe = true } }
                push(mine, to: user)
                let theirs = router.roster.item(of: contact, contact: user)
                if theirs?.subscription.hasFrom == true {
                    await approve(contact, subscriber: user)  // already approved: answer for them
                    return
                }
                if !isLocal(user), router.roster.item(of: contact, contact: user) == nil {
                    // A federated peer can invent senders without end: requests from other
                    // domains that no item stands for yet are bounded per account.
                    let pending = router.roster.items(of: contact).filter { $0.pendingIn && !isLocal($0.contact) && $0.subscription == .none }.count
                    guard pending < Self.maxRemoteRequests else {
                        router.metrics.record { $0.presenceDropped += 1 }
                        return
                    }
                }
                _ = try await update(contact, user) { with($0) { $0.pendingIn = true } }
                deliverToAvailable(outgoing, account: contact)
            case "subscribed":
                // Only an answer to a request: an unsolicited `subscribed` must not write into
                // the other user's roster (RFC 6121 §3.1.5).
                let requested = router.roster.item(of: user, contact: contact)?.pendingIn == true
                    || router.roster.item(of: contact, contact: user)?.askSubscribe == true
                guard requested else { return }
                await approve(user, subscriber: contact)
            case "unsubscribe":
                // Cancellations change existing items only; they never create one.
                let mine = try await updateExisting(user, contact) { with($0) { $0.subscription = $0.subscription.removing(to: true); $0.askSubscribe = false } }
                push(mine, to: user)
                let theirs = try await updateExisting(contact, user) { with($0) { $0.subscription = $0.subscription.removing(from: true); $0.pendingIn = false } }
                push(theirs, to: contact)
                deliverToAvailable(outgoing, account: contact)
                sendUnavailable(of: contact, to: user)
            case "unsubscribed":
                let mine = try await updateExisting(user, contact) { with($0) { $0.subscription = $0.subscription.removing(from: true); $0.pendingIn = false } }
                push(mine, to: user)
                let theirs = try await updateExisting(contact, user) { with($0) { $0.subscription = $0.subscription.removing(to: true); $0.askSubscribe = false } }
                push(theirs, to: contact)
                deliverToAvailable(outgoing, account: contact)
                sendUnavailable(of: user, to: contact)
            default:
                break
            }
        } catch {
            router.logger.error("subscription not stored", metadata: ["type": "\(type)", "error": "\(error)"])
        }
    }

    /// `approver` lets `subscriber` see its presence.
    private func approve(_ approver: BareJID, subscriber: BareJID) async {
        do {
            let approverItem = try await update(approver, subscriber) { with($0) { $0.subscription = $0.subscription.adding(from: true); $0.pendingIn = false } }
            push(approverItem, to: approver)
            let subscriberItem = try await update(subscriber, approver) { with($0) { $0.subscription = $0.subscription.adding(to: true); $0.askSubscribe = false } }
            push(subscriberItem, to: subscriber)
            deliverToAvailable(XMLElement("presence", namespace: Namespace.client, attributes: [
                .init("type", "subscribed"), .init("from", approver.description), .init("to", subscriber.description),
            ]), account: subscriber)
            for session in router.sessions.sessions(of: approver) where session.isAvailable {
                guard var presence = session.presence else { continue }
                presence[attribute: "from"] = session.jid.description
                presence[attribute: "to"] = subscriber.description
                deliverToAvailable(presence, account: subscriber)
            }
        } catch {
            router.logger.error("subscription approval not stored", metadata: ["error": "\(error)"])
        }
    }

    /// A federated party's roster lives on its own server: only local owners' items change.
    private func update(_ owner: BareJID, _ contact: BareJID, _ change: @escaping @Sendable (RosterItem) -> RosterItem) async throws -> RosterItem? {
        guard isLocal(owner) else { return nil }
        return try await router.roster.update(owner: owner, contact: contact) { current in change(current ?? RosterItem(contact: contact)) }
    }

    /// Changes an item only if it exists; returns nil (no push) otherwise.
    private func updateExisting(_ owner: BareJID, _ contact: BareJID, _ change: @escaping @Sendable (RosterItem) -> RosterItem) async throws -> RosterItem? {
        guard isLocal(owner), router.roster.item(of: owner, contact: contact) != nil else { return nil }
        return try await router.roster.update(owner: owner, contact: contact) { current in current.map(change) }
    }

    /// To `account`'s available resources, or over federation to its server.
    private func deliverToAvailable(_ stanza: XMLElement, account: BareJID) {
        if !isLocal(account) {
            router.federation?.send(stanza)
            return
        }
        for session in router.sessions.sessions(of: account) where session.isAvailable { session.deliver(stanza) }
    }

    private func sendUnavailable(of owner: BareJID, to account: BareJID) {
        for session in router.sessions.sessions(of: owner) {
            deliverToAvailable(XMLElement("presence", namespace: Namespace.client, attributes: [
                .init("type", "unavailable"), .init("from", session.jid.description), .init("to", account.description),
            ]), account: account)
        }
    }

    /// A roster push (RFC 6121 §2.1.6) to every resource of `owner` that asked for the roster.
    func push(_ item: RosterItem?, to owner: BareJID, removed contact: BareJID? = nil) {
        guard let element = item.map({ $0.element }) ?? contact.map({
            XMLElement("item", namespace: Namespace.roster, attributes: [.init("jid", $0.description), .init("subscription", "remove")])
        }) else { return }
        for session in router.sessions.sessions(of: owner) where session.state.withLockedValue({ $0.requestedRoster }) {
            session.deliver(XMLElement("iq", namespace: Namespace.client, attributes: [
                .init("type", "set"), .init("id", "push-" + SCRAMServer.randomNonce().prefix(8)), .init("to", session.jid.description),
            ], children: [.element(XMLElement("query", namespace: Namespace.roster, children: [.element(element)]))]))
        }
    }
}

func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var copy = value
    change(&copy)
    return copy
}
