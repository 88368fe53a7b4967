internal import AgoraXMPP

/// The `[muc]` keys (issue 22): multi-user chat rooms (XEP-0045) on the XMPP server, for
/// the publish–invite–join groups of owners and buyers. Read like every other key
/// (`AgoraConfiguration+Reader.swift`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `muc.enabled` | true | run the service (on the XMPP server; off when `xmpp.enabled` is false) |
/// | `muc.address` | "" | its JID; empty: `rooms.<domain>` |
/// | `muc.creators` | "owners" | who may create rooms: `operators`, `owners` (operators and owners) or `everyone` |
/// | `muc.max_rooms_per_account` | 10 | rooms one account may have created that still exist |
/// | `muc.max_rooms` | 1000 | rooms on the service |
/// | `muc.max_occupants` | 200 | occupants of one room (a room's own limit may only be lower) |
/// | `muc.max_history` | 50 | messages a room keeps for the history sent on entering |
/// | `muc.messages_per_second` | 5 | messages one occupant may send per second (a burst of five times as many) |
extension AgoraConfiguration {
    /// Who may create rooms (`muc.creators`).
    public enum RoomCreators: String, Sendable {
        case operators, owners, everyone
    }

    static let mucKeys: [Key] = [
        Key(name: "muc.enabled") { c, v, s throws(ConfigurationError) in c.xmpp.muc.enabled = try boolean(v, "muc.enabled", s) },
        Key(name: "muc.address") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "muc.address", s, nonEmpty: false)
            guard text.isEmpty || (text.contains(".") && !text.contains("@") && !text.contains("/") && text.utf8.count <= 1023) else {
                throw .key("muc.address", source: s, "expected a domain such as rooms.gw.example, not \"\(text.prefix(40))\"")
            }
            c.xmpp.muc.address = text
        },
        Key(name: "muc.creators") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "muc.creators", s, nonEmpty: true)
            guard let creators = RoomCreators(rawValue: text) else {
                throw .key("muc.creators", source: s, "expected \"operators\", \"owners\" or \"everyone\", not \"\(text.prefix(32))\"")
            }
            c.roomCreators = creators
        },
        Key(name: "muc.max_rooms_per_account") { c, v, s throws(ConfigurationError) in
            c.xmpp.muc.maxRoomsPerAccount = try integer(v, "muc.max_rooms_per_account", s, min: 0, max: 10_000)
        },
        Key(name: "muc.max_rooms") { c, v, s throws(ConfigurationError) in c.xmpp.muc.maxRooms = try integer(v, "muc.max_rooms", s, min: 0, max: 1_000_000) },
        Key(name: "muc.max_occupants") { c, v, s throws(ConfigurationError) in c.xmpp.muc.maxOccupants = try integer(v, "muc.max_occupants", s, min: 1, max: 100_000) },
        Key(name: "muc.max_history") { c, v, s throws(ConfigurationError) in c.xmpp.muc.maxHistory = try integer(v, "muc.max_history", s, min: 0, max: 10_000) },
        Key(name: "muc.messages_per_second") { c, v, s throws(ConfigurationError) in
            c.xmpp.muc.messagesPerSecond = Double(try integer(v, "muc.messages_per_second", s, min: 1, max: 100_000))
        },
    ]
}
