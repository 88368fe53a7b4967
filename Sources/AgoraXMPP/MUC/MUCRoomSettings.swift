/// What a room's owner configures (XEP-0045 §10.2, the `muc#roomconfig` form), durable with
/// the room. Defaults are a gateway's: rooms are persistent (a group outlives its last
/// occupant leaving) and semi-anonymous (only moderators see who is behind a nickname).
public struct MUCRoomSettings: Sendable, Codable, Equatable {
    public var name = ""
    public var description = ""
    /// Kept when the last occupant leaves, and across restarts.
    public var persistent = true
    /// Listed in the service's disco#items; a hidden room is found only by its address.
    public var isPublic = true
    /// Only members (and admins and owners) may enter.
    public var membersOnly = false
    /// Entering needs this password; empty: none.
    public var password = ""
    /// Who sees occupants' real JIDs: moderators only (semi-anonymous) or everyone
    /// (non-anonymous).
    public var realJIDsVisibleToAll = false
    /// Occupants at most; never above the service's bound.
    public var maxOccupants = 200
    /// Occupants may change the subject, not only moderators.
    public var occupantsMayChangeSubject = false
    /// Members may invite (and so add members), not only admins and owners.
    public var membersMayInvite = false
    /// Messages kept for the history sent on join; never above the service's bound.
    public var historyLength = 20

    public init() {}
}
