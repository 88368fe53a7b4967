internal import AgoraCore

/// IQs to a room: its disco#info, the admin protocol (roles and affiliations, §8–9) and
/// the owner protocol (configuration and destruction, §10). Changes apply to all items of
/// a request or to none; changes to affiliations and settings are durable before the
/// result is sent.
extension MUCService {
    /// Items one admin request may change.
    static let maxAdminItems = 50
    /// Affiliations (members, admins, owners, outcasts) one room keeps at most.
    static let maxAffiliations = 1000

    func iq(_ stanza: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        var payloads = stanza.elements.makeIterator()
        guard let payload = payloads.next(), payloads.next() == nil else {
            return StanzaError.badRequest("an IQ get or set carries exactly one payload element").reply(to: stanza)
        }
        let isSet = stanza[attribute: "type"] == "set"
        switch (payload.namespace, isSet) {
        case (Namespace.discoInfo, false): return discoInfo(stanza, room: localpart, from: session)
        case (Namespace.discoItems, false):
            return exists(localpart, for: session) ? result(stanza, XMLElement("query", namespace: Namespace.discoItems))
                                                   : StanzaError.itemNotFound("no such room").reply(to: stanza)
        case (MUCNamespace.admin, false): return adminList(stanza, payload, room: localpart, from: session)
        case (MUCNamespace.admin, true): return adminChange(stanza, payload, room: localpart, from: session)
        case (MUCNamespace.owner, false): return ownerForm(stanza, room: localpart, from: session)
        case (MUCNamespace.owner, true): return ownerChange(stanza, payload, room: localpart, from: session)
        case (ArchiveQuery.namespace, _): return archiveQuery(stanza, payload, room: localpart, from: session, isSet: isSet)
        default:
            return StanzaError(.serviceUnavailable, "a room answers disco, muc#admin and muc#owner").reply(to: stanza)
        }
    }

    /// The result of IQ `stanza`, from the room (or occupant JID) it was sent to.
    func result(_ stanza: XMLElement, _ payload: XMLElement?) -> XMLElement {
        StanzaRouter.result(for: stanza, from: stanza[attribute: "to"].flatMap { try? JID(parsing: $0) }, payload: payload)
    }

    /// Whether the room exists for `session`: a locked room exists only for its owner.
    private func exists(_ localpart: String, for session: Session) -> Bool {
        rooms.withLockedValue { rooms in rooms[localpart].map { !$0.locked || $0.affiliation(of: session.bare) == .owner } ?? false }
    }

    private func discoInfo(_ stanza: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        guard let room = rooms.withLockedValue({ $0[localpart] }), !room.locked || room.affiliation(of: session.bare) == .owner else {
            return StanzaError.itemNotFound("no such room").reply(to: stanza)
        }
        let settings = room.settings
        let features = [
            MUCNamespace.muc, Namespace.discoInfo,
            settings.isPublic ? "muc_public" : "muc_hidden",
            settings.membersOnly ? "muc_membersonly" : "muc_open",
            settings.password.isEmpty ? "muc_unsecured" : "muc_passwordprotected",
            settings.persistent ? "muc_persistent" : "muc_temporary",
            settings.realJIDsVisibleToAll ? "muc_nonanonymous" : "muc_semianonymous",
            "muc_unmoderated",
        ] + (settings.persistent && archive?.enabled == true ? [ArchiveQuery.namespace] : [])
        var query = XMLElement("query", namespace: Namespace.discoInfo, children: [
            .element(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [
                .init("category", "conference"), .init("type", "text"), .init("name", settings.name.isEmpty ? localpart : settings.name),
            ])),
        ])
        for feature in features { query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", feature)])) }
        query.append(XMLElement("x", namespace: MUCNamespace.dataForms, attributes: [.init("type", "result")], children: [
            .element(MUCRoomForm.field("FORM_TYPE", "hidden", "", [MUCNamespace.roomInfo])),
            .element(MUCRoomForm.field("muc#roominfo_description", "text-single", "Description", [settings.description])),
            .element(MUCRoomForm.field("muc#roominfo_occupants", "text-single", "Occupants", [String(room.occupants.count)])),
            .element(MUCRoomForm.field("muc#roominfo_subject", "text-single", "Subject", [room.subject])),
        ]))
        return result(stanza, query)
    }

    /// A room's archive (XEP-0313 §5), for whoever may enter it: not outcasts, members only
    /// in a members-only room, and occupants or members when it has a password.
    private func archiveQuery(_ stanza: XMLElement, _ payload: XMLElement, room localpart: String, from session: Session, isSet: Bool) -> XMLElement? {
        guard let archive, archive.enabled else { return StanzaError(.serviceUnavailable, "rooms are not archived here").reply(to: stanza) }
        let allowed = rooms.withLockedValue { rooms -> Bool? in
            guard let room = rooms[localpart], !room.locked else { return nil }
            let affiliation = room.affiliation(of: session.bare)
            return room.admits(session.bare) && (room.settings.password.isEmpty || affiliation >= .member || room.occupant(of: session) != nil)
        }
        guard let allowed else { return StanzaError.itemNotFound("no such room").reply(to: stanza) }
        guard allowed else {
            refused("archive")
            return StanzaError.forbidden("only those who may enter this room may read its archive").reply(to: stanza)
        }
        guard isSet else { return result(stanza, ArchiveQuery.fieldsForm) }
        let request = stanza
        switch ArchiveQuery.answer(payload, archive: archive, owner: jid(localpart), to: session) {
        case .error(let error): return error.reply(to: request)
        case .later(let job):
            // In the session's lane: one query of a session at a time, and a bounded queue of them.
            let started = session.lane.start({ [self] in
                switch await job() {
                case .result(let fin): session.deliver(result(request, fin))
                case .error(let error): session.deliver(error.reply(to: request))
                default: break
                }
            }, on: router.work)
            return started ? nil : StanzaError(.resourceConstraint, "too much of your work is waiting; try again").reply(to: stanza)
        default: return nil
        }
    }

    // MARK: Admin

    /// The accounts of one affiliation (admins and owners), or the occupants of one role
    /// (moderators).
    private func adminList(_ stanza: XMLElement, _ query: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        guard let asked = query.child("item", namespace: MUCNamespace.admin) else { return StanzaError.badRequest("name an affiliation or a role to list").reply(to: stanza) }
        let outcome = rooms.withLockedValue { rooms -> Result<[XMLElement], StanzaError> in
            guard let room = rooms[localpart] else { return .failure(.itemNotFound("no such room")) }
            let actor = room.affiliation(of: session.bare)
            if let text = asked[attribute: "affiliation"] {
                guard let affiliation = MUCAffiliation(rawValue: text), affiliation != .none else { return .failure(.badRequest("no such affiliation list")) }
                // Members of a members-only room know who else is in it (clients such as profanity
                // ask on entering); who is banned is for admins.
                let mayList = actor >= .admin || (affiliation != .outcast && room.settings.membersOnly && actor >= .member)
                guard mayList else { return .failure(.forbidden("only admins and owners see this affiliation list")) }
                return .success(room.affiliations.filter { $0.value == affiliation }.keys.sorted { $0.description < $1.description }.map {
                    XMLElement("item", namespace: MUCNamespace.admin, attributes: [.init("affiliation", affiliation.rawValue), .init("jid", $0.description)])
                })
            }
            guard let text = asked[attribute: "role"], let role = MUCRole(rawValue: text), role != .none else { return .failure(.badRequest("name an affiliation or a role to list")) }
            guard room.occupant(of: session)?.role == .moderator else { return .failure(.forbidden("only moderators see role lists")) }
            return .success(room.occupants.values.filter { $0.role == role }.sorted { $0.nick < $1.nick }.map {
                XMLElement("item", namespace: MUCNamespace.admin, attributes: [
                    .init("role", role.rawValue), .init("nick", $0.nick), .init("affiliation", room.affiliation(of: $0.session.bare).rawValue),
                    .init("jid", $0.session.jidText),
                ])
            })
        }
        switch outcome {
        case .success(let items): return result(stanza, XMLElement("query", namespace: MUCNamespace.admin, children: items.map { .element($0) }))
        case .failure(let error):
            refused(error.condition == .forbidden ? "forbidden" : "bad_request")
            return error.reply(to: stanza)
        }
    }

    private struct AdminChange {
        var affiliations: [BareJID: MUCAffiliation] = [:]
        var roles: [String: MUCRole] = [:]  // by nickname key
        var reasons: [String: String] = [:]
    }

    /// Kick (role none), grant or revoke moderator, and set affiliations (§8.2, §9.1–9.8):
    /// checked against the actor's privileges, then applied together.
    private func adminChange(_ stanza: XMLElement, _ query: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        let items = query.elements.filter { $0.name == "item" && $0.namespace == MUCNamespace.admin }
        guard !items.isEmpty, items.count <= Self.maxAdminItems else {
            return StanzaError.badRequest("a change names 1…\(Self.maxAdminItems) items").reply(to: stanza)
        }
        let outcome = rooms.withLockedValue { rooms -> Result<(Outbox, durable: Bool), StanzaError> in
            guard var room = rooms[localpart] else { return .failure(.itemNotFound("no such room")) }
            let actor = room.affiliation(of: session.bare)
            let actorRole = room.occupant(of: session)?.role ?? (actor >= .admin ? .moderator : .none)
            var outbox: Outbox = []
            var leaving: [(Session, [MUCStatus], [XMLElement])] = []
            var durable = false
            for item in items {
                let reason = mucReason(item.child("reason")?.text)
                if let text = item[attribute: "affiliation"] {
                    guard let affiliation = MUCAffiliation(rawValue: text) else { return .failure(.badRequest("no such affiliation: \(text.prefix(20))")) }
                    let target: BareJID
                    if let jidText = item[attribute: "jid"] {
                        guard let jid = try? JID(parsing: jidText), let bare = jid.bare else { return .failure(StanzaError(.jidMalformed, "an affiliation names an account")) }
                        target = bare
                    } else if let nick = item[attribute: "nick"], let occupant = room.occupants[MUCNick.key(nick)] {
                        target = occupant.session.bare
                    } else {
                        return .failure(.badRequest("an affiliation change names a jid, or the nick of an occupant"))
                    }
                    let current = room.affiliation(of: target)
                    guard actor >= .admin else { return .failure(.forbidden("only admins and owners change affiliations")) }
                    if affiliation >= .admin || current >= .admin, actor != .owner {
                        return .failure(StanzaError(.notAllowed, "only owners grant or take away admin and owner"))
                    }
                    if current == .owner, affiliation != .owner, room.affiliations.values.filter({ $0 == .owner }).count == 1 {
                        return .failure(StanzaError(.conflict, "a room keeps at least one owner; make someone else owner first"))
                    }
                    if affiliation != .none, room.affiliations[target] == nil, room.affiliations.count >= Self.maxAffiliations {
                        return .failure(StanzaError(.resourceConstraint, "a room keeps at most \(Self.maxAffiliations) affiliations"))
                    }
                    room.affiliations[target] = affiliation == .none ? nil : affiliation
                    durable = true
                    // Occupants of that account: out if banned or no longer admitted, else their role follows.
                    for (key, occupant) in room.occupants where occupant.session.bare == target {
                        if affiliation == .outcast {
                            leaving.append((occupant.session, [.banned], reason))
                        } else if !room.admits(target) {
                            leaving.append((occupant.session, [.affiliationChanged, .membersOnly], reason))
                        } else {
                            room.occupants[key]?.role = affiliation.defaultRole
                            let changed = room.occupants[key]!
                            outbox += room.occupants.values.map { ($0.session, room.presence(of: changed, for: $0, service: address)) }
                        }
                    }
                } else if let text = item[attribute: "role"] {
                    guard let role = MUCRole(rawValue: text), role != .visitor else {
                        return .failure(StanzaError(.notAllowed, "rooms here are unmoderated: roles are none, participant and moderator"))
                    }
                    guard let nick = item[attribute: "nick"], let key = Optional(MUCNick.key(nick)), let occupant = room.occupants[key] else {
                        return .failure(.itemNotFound("nobody of that nickname is in the room"))
                    }
                    guard actorRole == .moderator else { return .failure(.forbidden("only moderators change roles")) }
                    let targetAffiliation = room.affiliation(of: occupant.session.bare)
                    if targetAffiliation >= .admin, actor <= targetAffiliation {
                        return .failure(StanzaError(.notAllowed, "an admin or owner cannot be kicked or demoted by an equal"))
                    }
                    if role == .moderator || occupant.role == .moderator, actor < .admin {
                        return .failure(StanzaError(.notAllowed, "only admins and owners grant or revoke moderator"))
                    }
                    if role == .none {
                        leaving.append((occupant.session, [.kicked], reason))
                    } else {
                        room.occupants[key]?.role = role
                        let changed = room.occupants[key]!
                        outbox += room.occupants.values.map { ($0.session, room.presence(of: changed, for: $0, service: address)) }
                    }
                } else {
                    return .failure(.badRequest("an item sets an affiliation or a role"))
                }
            }
            rooms[localpart] = room
            for (gone, statuses, reason) in leaving {
                let left = Self.leave(&rooms, localpart, gone, service: address, statuses: statuses, extra: reason)
                outbox += left.stanzas
            }
            return .success((outbox, durable))
        }
        switch outcome {
        case .failure(let error):
            refused(error.condition == .forbidden || error.condition == .notAllowed ? "forbidden" : "bad_request")
            return error.reply(to: stanza)
        case .success(let (outbox, durable)):
            let reply = result(stanza, nil)
            guard durable else {
                send(outbox)
                return reply
            }
            let started = persist(localpart) { [self] error in
                send(outbox)
                session.deliver(error == nil ? reply : StanzaError(.internalServerError, "the change could not be stored").reply(to: stanza))
            }
            return started ? nil : StanzaError(.resourceConstraint, "the room's changes are queued too deep; try again").reply(to: stanza)
        }
    }

    // MARK: Owner

    private func ownerForm(_ stanza: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        guard let room = rooms.withLockedValue({ $0[localpart] }) else { return StanzaError.itemNotFound("no such room").reply(to: stanza) }
        guard room.affiliation(of: session.bare) == .owner else {
            refused("forbidden")
            return StanzaError.forbidden("only owners configure a room").reply(to: stanza)
        }
        let form = MUCRoomForm.form(room.settings, maxOccupants: configuration.maxOccupants, maxHistory: configuration.maxHistory)
        return result(stanza, XMLElement("query", namespace: MUCNamespace.owner, children: [.element(form)]))
    }

    /// A submitted or cancelled configuration, or the room's destruction (§10.1–10.9).
    private func ownerChange(_ stanza: XMLElement, _ query: XMLElement, room localpart: String, from session: Session) -> XMLElement? {
        let form = query.child("x", namespace: MUCNamespace.dataForms)
        let destroy = query.child("destroy", namespace: MUCNamespace.owner)
        guard form != nil || destroy != nil else { return StanzaError.badRequest("send a configuration form or <destroy/>").reply(to: stanza) }
        let (maxOccupants, maxHistory) = (configuration.maxOccupants, configuration.maxHistory)
        let outcome = rooms.withLockedValue { rooms -> Result<(Outbox, gone: Bool), StanzaError> in
            guard var room = rooms[localpart] else { return .failure(.itemNotFound("no such room")) }
            guard room.affiliation(of: session.bare) == .owner else { return .failure(.forbidden("only owners configure or destroy a room")) }
            let cancelled = form?[attribute: "type"] == "cancel"
            if destroy != nil || (cancelled && room.locked) {
                var extra = XMLElement("destroy", namespace: MUCNamespace.user)
                if let reason = destroy?.child("reason")?.text, !reason.isEmpty {
                    extra.append(XMLElement("reason", namespace: MUCNamespace.user, text: String(reason.prefix(MUCConfiguration.maxTextBytes))))
                }
                let outbox: Outbox = room.occupants.values.map { occupant in
                    var gone = room.presence(of: occupant, for: occupant, service: address, unavailable: true)
                    Self.append(extra, toUserX: &gone)
                    return (occupant.session, gone)
                }
                rooms[localpart] = nil
                return .success((outbox, true))
            }
            guard let form, !cancelled else { return .success(([], false)) }
            guard form[attribute: "type"] == "submit" else { return .failure(.badRequest("a configuration form is submitted or cancelled")) }
            do throws(StanzaError) {
                room.settings = try MUCRoomForm.apply(form, to: room.settings, maxOccupants: maxOccupants, maxHistory: maxHistory)
            } catch {
                return .failure(error)
            }
            room.locked = false
            room.trimHistory(limit: room.settings.historyLength)
            rooms[localpart] = room
            var outbox: Outbox = []
            if room.settings.membersOnly {
                for occupant in room.occupants.values where !room.admits(occupant.session.bare) {
                    outbox += Self.leave(&rooms, localpart, occupant.session, service: address, statuses: [.affiliationChanged, .membersOnly]).stanzas
                }
            }
            return .success((outbox, false))
        }
        switch outcome {
        case .failure(let error):
            refused(error.condition == .forbidden ? "forbidden" : "bad_request")
            return error.reply(to: stanza)
        case .success(let (outbox, gone)):
            let reply = result(stanza, nil)
            let oldest = rooms.withLockedValue { $0[localpart]?.history.first?.sequence }
            let started = persist(localpart, gone: gone) { [self] error in
                send(outbox)
                session.deliver(error == nil ? reply : StanzaError(.internalServerError, "the change could not be stored").reply(to: stanza))
                if let oldest, error == nil {
                    _ = lane.start({ [self] in try? await roomStore.trim(localpart, keepingFrom: oldest) }, on: router.work)
                }
            }
            return started ? nil : StanzaError(.resourceConstraint, "the room's changes are queued too deep; try again").reply(to: stanza)
        }
    }

    /// Adds `element` inside a presence's `muc#user` `<x/>`.
    static func append(_ element: XMLElement, toUserX presence: inout XMLElement) {
        guard let index = presence.children.firstIndex(where: { if case .element(let e) = $0 { e.name == "x" && e.namespace == MUCNamespace.user } else { false } }),
              case .element(var x) = presence.children[index] else { return }
        x.append(element)
        presence.children[index] = .element(x)
    }
}
