internal import AgoraCore

/// Entering, changing nickname or presence, and leaving (XEP-0045 §7.2–7.4, §7.14).
extension MUCService {
    func presence(_ stanza: XMLElement, room localpart: String, nick: String?, from session: Session) -> XMLElement? {
        switch stanza[attribute: "type"] {
        case nil:
            guard let nick, MUCNick.isValid(nick) else {
                refused("bad_request")
                return Self.entryError(StanzaError(.jidMalformed, "enter a room as room@\(address)/nickname; a nickname is 1…64 bytes, not only spaces"),
                                       to: stanza)
            }
            return enter(stanza, room: localpart, nick: nick, from: session)
        case "unavailable", "error":
            // An error bounced by the occupant's client means it is gone (§7.14 leaves it to us).
            let outbox = rooms.withLockedValue { rooms in Self.leave(&rooms, localpart, session, service: address) }
            send(outbox.stanzas)
            if outbox.removed { persist(localpart, gone: true) }
            return nil
        default:
            return nil  // subscriptions and probes mean nothing to a room
        }
    }

    /// A refused entry: the error presence carries an empty `<x xmlns='…/muc'/>` as §7.2.6
    /// shows (clients match on it), never the password the request carried.
    static func entryError(_ error: StanzaError, to stanza: XMLElement) -> XMLElement {
        StanzaError(error.condition, error.text, payload: XMLElement("x", namespace: MUCNamespace.muc)).reply(to: stanza)
    }

    /// The presence an occupant sent, as the room keeps it: its show, status and priority.
    static func occupantPresence(_ stanza: XMLElement) -> XMLElement {
        var kept = XMLElement("presence", namespace: Namespace.client)
        for child in stanza.elements where child.namespace == Namespace.client && ["show", "status", "priority"].contains(child.name) {
            kept.append(XMLElement(child.name, namespace: Namespace.client, text: String(child.text.prefix(MUCConfiguration.maxTextBytes))))
        }
        return kept
    }

    private enum Entry {
        case done(Outbox)
        case refused(StanzaError, reason: String)
        case create
    }

    private func enter(_ stanza: XMLElement, room localpart: String, nick: String, from session: Session) -> XMLElement? {
        let join = stanza.child("x", namespace: MUCNamespace.muc)
        let entry = rooms.withLockedValue { rooms -> Entry in
            guard var room = rooms[localpart] else { return .create }
            defer { rooms[localpart] = room }
            let key = MUCNick.key(nick)
            if let (currentKey, current) = room.occupants.first(where: { $0.value.session === session }) {
                return changePresence(&room, currentKey, current, to: nick, key: key, stanza: stanza)
            }
            let affiliation = room.affiliation(of: session.bare)
            if room.locked, affiliation != .owner {
                return .refused(.itemNotFound("the room is being created; its owner has not configured it yet"), reason: "locked")
            }
            if affiliation == .outcast { return .refused(.forbidden("you are banned from this room"), reason: "banned") }
            if room.settings.membersOnly, affiliation < .member {
                return .refused(StanzaError(.registrationRequired, "this room is for members only; ask an admin to invite you"), reason: "members_only")
            }
            if !room.settings.password.isEmpty, affiliation < .admin, join?.child("password")?.text != room.settings.password {
                return .refused(StanzaError(.notAuthorized, "this room needs a password"), reason: "password")
            }
            if room.occupants[key] != nil { return .refused(StanzaError(.conflict, "that nickname is taken in this room"), reason: "conflict") }
            if affiliation < .admin, room.occupants.count >= min(room.settings.maxOccupants, configuration.maxOccupants) {
                return .refused(StanzaError(.serviceUnavailable, "the room is full"), reason: "full")
            }
            let occupant = MUCOccupant(nick: nick, session: session, role: affiliation.defaultRole, presence: Self.occupantPresence(stanza),
                                       allowance: allowance())
            return .done(admit(occupant, key: key, into: &room, history: join?.child("history"), statuses: []))
        }
        switch entry {
        case .done(let outbox):
            send(outbox)
        case .refused(let error, let reason):
            refused(reason)
            return Self.entryError(error, to: stanza)
        case .create:
            // Whether the account may create rooms is a store read: in the sender's lane.
            let started = session.lane.start({ [self] in create(stanza, room: localpart, nick: nick, from: session) }, on: router.work)
            if !started {
                refused("lane")
                return Self.entryError(StanzaError(.resourceConstraint, "too much of your work is waiting; try again"), to: stanza)
            }
        }
        return nil
    }

    /// A new room: locked, with its creator as owner, until the owner configures it (an
    /// instant room is one configured with the defaults, §10.1.2).
    private func create(_ stanza: XMLElement, room localpart: String, nick: String, from session: Session) {
        guard configuration.mayCreateRooms(session.bare) else {
            refused("create_denied")
            session.deliver(Self.entryError(StanzaError(.notAllowed, "this account may not create rooms here"), to: stanza))
            return
        }
        let outcome = rooms.withLockedValue { rooms -> Result<Outbox, StanzaError> in
            // A session that ended meanwhile has already left every room (its end leaves them
            // under this lock, after marking it closed): it must not create one now.
            if session.isClosed { return .failure(StanzaError(.serviceUnavailable, "the session ended")) }
            if rooms[localpart] != nil { return .failure(StanzaError(.conflict, "the room was created meanwhile; enter it again")) }
            guard rooms.count < configuration.maxRooms else { return .failure(StanzaError(.resourceConstraint, "this service holds all the rooms it may")) }
            let own = rooms.values.reduce(0) { $0 + ($1.creator == session.bare ? 1 : 0) }
            guard own < configuration.maxRoomsPerAccount else {
                return .failure(StanzaError(.resourceConstraint, "you have created \(own) rooms, the most one account may have; destroy one first"))
            }
            var settings = MUCRoomSettings()
            settings.maxOccupants = min(settings.maxOccupants, configuration.maxOccupants)
            settings.historyLength = min(settings.historyLength, configuration.maxHistory)
            var room = MUCRoom(localpart: localpart, settings: settings, affiliations: [session.bare: .owner], creator: session.bare, locked: true)
            let occupant = MUCOccupant(nick: nick, session: session, role: .moderator, presence: Self.occupantPresence(stanza), allowance: allowance())
            let outbox = admit(occupant, key: MUCNick.key(nick), into: &room, history: nil, statuses: [.created])
            rooms[localpart] = room
            return .success(outbox)
        }
        switch outcome {
        case .success(let outbox): send(outbox)
        case .failure(let error):
            refused("room_quota")
            session.deliver(Self.entryError(error, to: stanza))
        }
    }

    func allowance() -> TokenBucket {
        TokenBucket(capacity: max(1, Int(configuration.messagesPerSecond * 5)), perSecond: configuration.messagesPerSecond, now: .now)
    }

    /// Puts `occupant` in the room and says so (§7.2.3–7.2.16): everyone's presence to the
    /// newcomer, its own presence to everyone (itself last, with status 110), the history it
    /// asked for, and the subject.
    private func admit(_ occupant: MUCOccupant, key: String, into room: inout MUCRoom, history: XMLElement?, statuses: [MUCStatus]) -> Outbox {
        var outbox: Outbox = []
        for other in room.occupants.values {
            outbox.append((occupant.session, room.presence(of: other, for: occupant, service: address)))
        }
        room.occupants[key] = occupant
        for other in room.occupants.values where other.session !== occupant.session {
            outbox.append((other.session, room.presence(of: occupant, for: other, service: address)))
        }
        outbox.append((occupant.session, room.presence(of: occupant, for: occupant, service: address, statuses: statuses)))
        for entry in Self.history(room.history, asked: history) {
            outbox.append((occupant.session, entry.delivery(to: occupant.session, room: jid(room.localpart))))
        }
        outbox.append((occupant.session, room.subjectMessage(service: address, to: occupant.session)))
        return outbox
    }

    /// The part of the history a joining client asked for (§7.2.15): at most `maxstanzas`
    /// messages, `maxchars` characters of XML, or those of the last `seconds` or `since`.
    static func history(_ history: [MUCHistoryEntry], asked: XMLElement?) -> [MUCHistoryEntry] {
        guard let asked else { return history }
        var selected = history
        if let text = asked[attribute: "maxstanzas"], let count = Int(text) { selected = Array(selected.suffix(max(0, count))) }
        if let text = asked[attribute: "seconds"], let seconds = Int64(text) {
            let since = Timestamp.now().seconds - max(0, seconds)
            selected = selected.filter { $0.stamp.seconds >= since }
        }
        if let text = asked[attribute: "since"], let since = try? Timestamp(rfc3339: text) { selected = selected.filter { $0.stamp >= since } }
        if let text = asked[attribute: "maxchars"], let budget = Int(text) {
            var kept: [MUCHistoryEntry] = [], used = 0
            for entry in selected.reversed() {
                used += XMLWriter.string(entry.message).utf8.count
                guard used <= budget else { break }
                kept.insert(entry, at: 0)
            }
            selected = kept
        }
        return selected
    }

    /// An occupant's presence to its own room: a new status, or a new nickname (§7.6).
    private func changePresence(_ room: inout MUCRoom, _ currentKey: String, _ current: MUCOccupant, to nick: String, key: String,
                                stanza: XMLElement) -> Entry {
        var occupant = current
        occupant.presence = Self.occupantPresence(stanza)
        guard key != currentKey || nick != current.nick else {
            room.occupants[currentKey] = occupant
            return .done(room.occupants.values.map { ($0.session, room.presence(of: occupant, for: $0, service: address)) })
        }
        if key != currentKey, room.occupants[key] != nil {
            return .refused(StanzaError(.conflict, "that nickname is taken in this room"), reason: "conflict")
        }
        var outbox: Outbox = []
        for viewer in room.occupants.values {
            var gone = room.presence(of: current, for: viewer, service: address, unavailable: true, statuses: [.nickChanged])
            Self.setItemNick(&gone, nick)
            outbox.append((viewer.session, gone))
        }
        room.occupants[currentKey] = nil
        occupant.nick = nick
        room.occupants[key] = occupant
        for viewer in room.occupants.values {
            outbox.append((viewer.session, room.presence(of: occupant, for: viewer, service: address)))
        }
        return .done(outbox)
    }

    /// Adds `nick` to the `muc#user` item of a presence (the new nickname of status 303).
    static func setItemNick(_ presence: inout XMLElement, _ nick: String) {
        guard let xIndex = presence.children.firstIndex(where: { if case .element(let e) = $0 { e.name == "x" && e.namespace == MUCNamespace.user } else { false } }),
              case .element(var x) = presence.children[xIndex],
              let itemIndex = x.children.firstIndex(where: { if case .element(let e) = $0 { e.name == "item" } else { false } }),
              case .element(var item) = x.children[itemIndex] else { return }
        item[attribute: "nick"] = nick
        x.children[itemIndex] = .element(item)
        presence.children[xIndex] = .element(x)
    }

    /// Takes `session` out of a room, telling everyone; `removed`: the room went with it
    /// (temporary, or never configured, and now empty).
    static func leave(_ rooms: inout [String: MUCRoom], _ localpart: String, _ session: Session, service: String,
                      statuses: [MUCStatus] = [], extra: [XMLElement] = []) -> (stanzas: Outbox, removed: Bool) {
        guard var room = rooms[localpart], let (key, occupant) = room.occupants.first(where: { $0.value.session === session }) else { return ([], false) }
        let outbox: Outbox = room.occupants.values.map {
            ($0.session, room.presence(of: occupant, for: $0, service: service, unavailable: true, statuses: statuses, extra: extra))
        }
        room.occupants[key] = nil
        if room.occupants.isEmpty, !room.settings.persistent || room.locked {
            rooms[localpart] = nil
            return (outbox, true)
        }
        rooms[localpart] = room
        return (outbox, false)
    }

    /// A session ended or went unavailable: it leaves every room it is in.
    func leaveAll(_ session: Session) {
        let (outbox, removed) = rooms.withLockedValue { rooms -> (Outbox, [String]) in
            var outbox: Outbox = [], removed: [String] = []
            for localpart in rooms.keys where rooms[localpart]?.occupant(of: session) != nil {
                let left = Self.leave(&rooms, localpart, session, service: address)
                outbox += left.stanzas
                if left.removed { removed.append(localpart) }
            }
            return (outbox, removed)
        }
        send(outbox.filter { $0.0 !== session })
        for localpart in removed { persist(localpart, gone: true) }
    }
}
