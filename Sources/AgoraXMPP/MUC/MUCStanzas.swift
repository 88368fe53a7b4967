internal import AgoraCore

/// XEP-0045's namespaces and the stanzas a room sends: occupants' presence with their
/// `muc#user` item and status codes, the subject, and history with its delay stamp.
enum MUCNamespace {
    static let muc = "http://jabber.org/protocol/muc"
    static let user = "http://jabber.org/protocol/muc#user"
    static let admin = "http://jabber.org/protocol/muc#admin"
    static let owner = "http://jabber.org/protocol/muc#owner"
    static let roomConfig = "http://jabber.org/protocol/muc#roomconfig"
    static let roomInfo = "http://jabber.org/protocol/muc#roominfo"
    static let dataForms = "jabber:x:data"
    /// XEP-0249 direct invitations.
    static let conference = "jabber:x:conference"
}

/// The status codes of XEP-0045 §15.6 that this service sends.
enum MUCStatus: Int {
    case nonAnonymous = 100
    case selfPresence = 110
    case created = 201
    case nickAssigned = 210
    case banned = 301
    case nickChanged = 303
    case kicked = 307
    case affiliationChanged = 321
    case membersOnly = 322
    case shutdown = 332
}

extension MUCRoom {
    /// `<presence from='room@service/nick'>` for `occupant`, to be sent to `viewer`: the real
    /// JID only when the viewer may see it (a moderator, everyone in a non-anonymous room,
    /// or the occupant itself).
    func presence(of occupant: MUCOccupant, for viewer: MUCOccupant?, service: String, unavailable: Bool = false,
                  statuses: [MUCStatus] = [], extra: [XMLElement] = []) -> XMLElement {
        var presence = unavailable ? XMLElement("presence", namespace: Namespace.client, attributes: [.init("type", "unavailable")]) : occupant.presence
        presence.namespace = Namespace.client
        presence[attribute: "from"] = "\(localpart)@\(service)/\(occupant.nick)"
        presence[attribute: "to"] = viewer?.session.jidText
        presence[attribute: "id"] = nil
        var item = XMLElement("item", namespace: MUCNamespace.user, attributes: [
            .init("affiliation", affiliation(of: occupant.session.bare).rawValue), .init("role", unavailable ? MUCRole.none.rawValue : occupant.role.rawValue),
        ])
        let isSelf = viewer?.session === occupant.session
        if isSelf || settings.realJIDsVisibleToAll || (viewer?.role ?? .none) == .moderator {
            item[attribute: "jid"] = occupant.session.jidText
        }
        for element in extra { item.append(element) }
        var x = XMLElement("x", namespace: MUCNamespace.user, children: [.element(item)])
        var codes = statuses
        if isSelf {
            codes.append(.selfPresence)
            if settings.realJIDsVisibleToAll { codes.append(.nonAnonymous) }
        }
        for code in codes { x.append(XMLElement("status", namespace: MUCNamespace.user, attributes: [.init("code", String(code.rawValue))])) }
        presence.append(x)
        return presence
    }

    /// The subject message every entering occupant gets last (empty when none is set:
    /// clients wait for it to know they are in).
    func subjectMessage(service: String, to viewer: Session) -> XMLElement {
        let from = subjectBy.isEmpty ? "\(localpart)@\(service)" : "\(localpart)@\(service)/\(subjectBy)"
        return XMLElement("message", namespace: Namespace.client, attributes: [
            .init("type", "groupchat"), .init("from", from), .init("to", viewer.jidText),
        ], children: [.element(XMLElement("subject", namespace: Namespace.client, text: subject))])
    }
}

extension MUCHistoryEntry {
    /// The message as history for `viewer`: stamped with when the room received it.
    func delivery(to viewer: Session, room: String) -> XMLElement {
        var copy = message
        copy[attribute: "to"] = viewer.jidText
        copy.append(XMLElement("delay", namespace: Namespace.delay, attributes: [.init("from", room), .init("stamp", stamp.rfc3339)]))
        return copy
    }
}

/// The children of a `muc#user` `<x/>` that say why: a `<reason/>` and an `<actor/>`.
func mucReason(_ text: String?) -> [XMLElement] {
    guard let text, !text.isEmpty else { return [] }
    return [XMLElement("reason", namespace: MUCNamespace.user, text: String(text.prefix(MUCConfiguration.maxTextBytes)))]
}
