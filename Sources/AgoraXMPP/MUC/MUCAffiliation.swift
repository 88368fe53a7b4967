/// A long-lived relation of an account to a room (XEP-0045 §5.2), ordered by privilege.
public enum MUCAffiliation: String, Sendable, Codable, Comparable, CaseIterable {
    case outcast, none, member, admin, owner

    private var rank: Int {
        switch self {
        case .outcast: 0
        case .none: 1
        case .member: 2
        case .admin: 3
        case .owner: 4
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// The role an occupant with this affiliation gets on entering an unmoderated room.
    var defaultRole: MUCRole { self >= .admin ? .moderator : .participant }
}

/// A temporary relation of an occupant to a room, for as long as it is in it (§5.1).
/// Rooms here are unmoderated, so everyone in is a participant or a moderator.
public enum MUCRole: String, Sendable, Comparable {
    case none, visitor, participant, moderator

    private var rank: Int {
        switch self {
        case .none: 0
        case .visitor: 1
        case .participant: 2
        case .moderator: 3
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}
