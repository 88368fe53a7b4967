internal import AgoraCore

/// Messages to a room (XEP-0045 §7.4, §7.5, §7.8, §8.1): groupchat reflected to every
/// occupant, private messages between occupants, the subject, and mediated invitations.
extension MUCService {
    /// Invitations one message may carry.
    static let maxInvitesPerMessage = 5

    func message(_ stanza: XMLElement, room localpart: String, nick: String?, from session: Session) -> XMLElement? {
        let type = stanza[attribute: "type"] ?? "normal"
        guard type != "error" else { return nil }
        if let nick { return privateMessage(stanza, room: localpart, to: nick, from: session) }
        if type == "groupchat" { return groupchat(stanza, room: localpart, from: session) }
        if let x = stanza.child("x", namespace: MUCNamespace.user) {
            if x.child("invite") != nil { return invite(stanza, x: x, room: localpart, from: session) }
            if let decline = x.child("decline") { return self.decline(stanza, decline, room: localpart, from: session) }
        }
        refused("bad_request")
        return StanzaError.badRequest("a room takes groupchat messages, invitations and declines").reply(to: stanza)
    }

    private enum Sent {
        case delivered(Outbox, persist: (entry: MUCHistoryEntry, keep: Int)?, subjectChanged: Bool)
        case refused(StanzaError, reason: String)
    }

    /// The message's size as XML, or a refusal when a room would not relay it.
    private func relayable(_ stanza: XMLElement) -> Result<Int, StanzaError> {
        let bytes = XMLWriter.bytes(stanza).readableBytes
        guard bytes <= MUCConfiguration.maxMessageBytes else {
            return .failure(StanzaError(.notAcceptable, "a room relays messages of at most \(MUCConfiguration.maxMessageBytes / 1024) KiB"))
        }
        return .success(bytes)
    }

    private func groupchat(_ stanza: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        let bytes: Int
        switch relayable(stanza) {
        case .success(let size): bytes = size
        case .failure(let error):
            refused("too_large")
            return error.reply(to: stanza)
        }
        let now = ContinuousClock.now
        let sent = rooms.withLockedValue { rooms -> Sent in
            guard var room = rooms[localpart] else { return .refused(.itemNotFound("no such room"), reason: "not_occupant") }
            guard let key = room.occupants.first(where: { $0.value.session === session })?.key, var occupant = room.occupants[key] else {
                return .refused(StanzaError(.notAcceptable, "you are not in this room; enter it first"), reason: "not_occupant")
            }
            guard occupant.allowance.take(now: now) else {
                room.occupants[key] = occupant
                rooms[localpart] = room
                return .refused(StanzaError(.resourceConstraint, "you are sending messages to this room too fast; slow down"), reason: "rate")
            }
            room.occupants[key] = occupant
            var message = stanza
            message[attribute: "from"] = jid(localpart, occupant.nick)
            message[attribute: "to"] = nil
            let subject = stanza.child("subject", namespace: Namespace.client)
            let hasBody = stanza.child("body", namespace: Namespace.client) != nil
            var subjectChanged = false
            if let subject, !hasBody {
                guard occupant.role == .moderator || room.settings.occupantsMayChangeSubject else {
                    rooms[localpart] = room
                    return .refused(.forbidden("only moderators may change this room's subject"), reason: "forbidden")
                }
                room.subject = String(subject.text.prefix(MUCConfiguration.maxTextBytes))
                room.subjectBy = occupant.nick
                subjectChanged = true
            }
            // Without a body (chat states, markers): relayed, kept nowhere.
            var persist: (MUCHistoryEntry, Int)?
            if hasBody, room.settings.historyLength > 0 {
                let keep = room.settings.historyLength
                let entry = room.remember(message, bytes: bytes, limit: keep)
                if room.settings.persistent, !room.locked { persist = (entry, keep) }
            }
            rooms[localpart] = room
            let outbox: Outbox = room.occupants.values.map { viewer in
                var copy = message
                copy[attribute: "to"] = viewer.session.jidText
                return (viewer.session, copy)
            }
            return .delivered(outbox, persist: persist, subjectChanged: subjectChanged)
        }
        switch sent {
        case .refused(let error, let reason):
            refused(reason)
            return error.reply(to: stanza)
        case .delivered(let outbox, let persist, let subjectChanged):
            metrics.record { $0.mucMessages += 1 }
            send(outbox)
            if let persist {
                persistHistory(localpart, persist.entry, keep: persist.keep)
                // Persistent rooms are archived too (XEP-0313), beyond the history's few messages.
                if let archive, MessageArchive.isArchivable(persist.entry.message) {
                    archive.record(persist.entry.message, for: [(jid(localpart), persist.entry.message[attribute: "from"] ?? "")], work: router.work)
                }
            }
            if subjectChanged { self.persist(localpart) }
            return nil
        }
    }

    /// A message to one occupant, from the sender's occupant JID (§7.5).
    private func privateMessage(_ stanza: XMLElement, room localpart: String, to nick: String, from session: Session) -> XMLElement? {
        guard stanza[attribute: "type"] != "groupchat" else {
            refused("bad_request")
            return StanzaError.badRequest("groupchat messages go to the room, not to an occupant").reply(to: stanza)
        }
        if case .failure(let error) = relayable(stanza) {
            refused("too_large")
            return error.reply(to: stanza)
        }
        let now = ContinuousClock.now
        let outcome = rooms.withLockedValue { rooms -> Result<(Session, XMLElement), StanzaError> in
            guard var room = rooms[localpart] else { return .failure(.itemNotFound("no such room")) }
            guard let key = room.occupants.first(where: { $0.value.session === session })?.key, var sender = room.occupants[key] else {
                return .failure(StanzaError(.notAcceptable, "only occupants may send private messages in a room"))
            }
            guard sender.allowance.take(now: now) else {
                room.occupants[key] = sender
                rooms[localpart] = room
                return .failure(StanzaError(.resourceConstraint, "you are sending messages too fast; slow down"))
            }
            room.occupants[key] = sender
            rooms[localpart] = room
            guard let recipient = room.occupants[MUCNick.key(nick)] else { return .failure(.itemNotFound("nobody of that nickname is in the room")) }
            var message = stanza
            message[attribute: "from"] = jid(localpart, sender.nick)
            message[attribute: "to"] = recipient.session.jidText
            if message.child("x", namespace: MUCNamespace.user) == nil { message.append(XMLElement("x", namespace: MUCNamespace.user)) }
            return .success((recipient.session, message))
        }
        switch outcome {
        case .success(let delivery): delivery.0.deliver(delivery.1)
        case .failure(let error):
            refused(error.condition == .resourceConstraint ? "rate" : "not_occupant")
            return error.reply(to: stanza)
        }
        return nil
    }

    /// A mediated invitation (§7.8.2): the room sends it to each invitee's account — to an
    /// available resource, or to offline storage, charged to the inviter. In a members-only
    /// room an admin's (or, when allowed, a member's) invitation makes the invitee a member,
    /// durably, before the invitation leaves.
    private func invite(_ stanza: XMLElement, x: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        let invites = x.elements.filter { $0.name == "invite" }
        guard invites.count <= Self.maxInvitesPerMessage else {
            refused("bad_request")
            return StanzaError.badRequest("at most \(Self.maxInvitesPerMessage) invitations per message").reply(to: stanza)
        }
        var invitees: [(BareJID, String)] = []
        for invite in invites {
            guard let text = invite[attribute: "to"], let jid = try? JID(parsing: text), let account = jid.bare else {
                return StanzaError(.jidMalformed, "an invitation names the invitee's account in 'to'").reply(to: stanza)
            }
            guard account.domain == router.domain else {
                return StanzaError(.remoteServerNotFound, "this server does not federate; only accounts of \(router.domain) can be invited").reply(to: stanza)
            }
            invitees.append((account, invite.child("reason")?.text ?? ""))
        }
        let outcome = rooms.withLockedValue { rooms -> Result<(password: String, addsMembers: Bool), StanzaError> in
            guard var room = rooms[localpart] else { return .failure(.itemNotFound("no such room")) }
            let affiliation = room.affiliation(of: session.bare)
            guard room.occupant(of: session) != nil || affiliation >= .admin else {
                return .failure(.forbidden("only occupants and admins may invite to a room"))
            }
            guard !room.locked else { return .failure(StanzaError(.notAllowed, "configure the room before inviting")) }
            guard room.settings.membersOnly else { return .success((room.settings.password, false)) }
            guard affiliation >= .admin || (affiliation == .member && room.settings.membersMayInvite) else {
                return .failure(.forbidden("in this members-only room only admins and owners may invite"))
            }
            let added = invitees.filter { room.affiliation(of: $0.0) == .none }.count
            guard room.affiliations.count + added <= Self.maxAffiliations else {
                return .failure(StanzaError(.resourceConstraint, "a room keeps at most \(Self.maxAffiliations) affiliations"))
            }
            for (account, _) in invitees where room.affiliation(of: account) == .none { room.affiliations[account] = .member }
            rooms[localpart] = room
            return .success((room.settings.password, true))
        }
        let (password, addsMembers): (String, Bool)
        switch outcome {
        case .failure(let error):
            refused(error.condition == .forbidden ? "forbidden" : "bad_request")
            return error.reply(to: stanza)
        case .success(let value): (password, addsMembers) = value
        }
        let roomJID = jid(localpart)
        let invited = invitees
        let deliver: @Sendable () -> Void = { [self] in
            for (account, reason) in invited {
                var inner = XMLElement("invite", namespace: MUCNamespace.user, attributes: [.init("from", session.bare.description)])
                if !reason.isEmpty { inner.append(XMLElement("reason", namespace: MUCNamespace.user, text: String(reason.prefix(MUCConfiguration.maxTextBytes)))) }
                var x = XMLElement("x", namespace: MUCNamespace.user, children: [.element(inner)])
                if !password.isEmpty { x.append(XMLElement("password", namespace: MUCNamespace.user, text: password)) }
                let message = XMLElement("message", namespace: Namespace.client, attributes: [.init("from", roomJID), .init("to", account.description)], children: [
                    .element(x),
                    .element(XMLElement("body", namespace: Namespace.client, text: "\(session.bare) invites you to the room \(roomJID)" + (reason.isEmpty ? "" : ": \(reason)"))),
                ])
                router.deliverFromService(message, to: account, chargedTo: session)
            }
        }
        if addsMembers {
            let started = persist(localpart) { error in if error == nil { deliver() } }
            if !started { return StanzaError(.resourceConstraint, "the room's changes are queued too deep; try again").reply(to: stanza) }
        } else {
            deliver()
        }
        return nil
    }

    /// A declined invitation goes back to the inviter (§7.8.2, the decline).
    private func decline(_ stanza: XMLElement, _ decline: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        guard let text = decline[attribute: "to"], let address = try? JID(parsing: text), let inviter = address.bare, inviter.domain == router.domain else {
            return StanzaError(.jidMalformed, "a decline names the inviter's account in 'to'").reply(to: stanza)
        }
        // Only to someone who can have invited: an occupant or an affiliated account of an
        // existing room, from someone not banned from it (a room is no relay for anyone's text).
        let plausible = rooms.withLockedValue { rooms -> Bool in
            guard let room = rooms[localpart], room.affiliation(of: session.bare) != .outcast else { return false }
            return room.affiliation(of: inviter) >= .member || room.occupants.values.contains { $0.session.bare == inviter }
        }
        guard plausible else {
            refused("bad_request")
            return StanzaError.itemNotFound("nobody of this room invited you from that address").reply(to: stanza)
        }
        var inner = XMLElement("decline", namespace: MUCNamespace.user, attributes: [.init("from", session.bare.description)])
        if let reason = decline.child("reason")?.text, !reason.isEmpty {
            inner.append(XMLElement("reason", namespace: MUCNamespace.user, text: String(reason.prefix(MUCConfiguration.maxTextBytes))))
        }
        let message = XMLElement("message", namespace: Namespace.client, attributes: [.init("from", jid(localpart)), .init("to", inviter.description)],
                                 children: [.element(XMLElement("x", namespace: MUCNamespace.user, children: [.element(inner)]))])
        for recipient in router.sessions.preferredSessions(of: inviter) { recipient.deliver(message) }
        return nil
    }
}
