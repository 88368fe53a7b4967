public import AgoraCore

/// The multi-user chat service's settings (`[muc]`): where it lives, who may create rooms,
/// and the bounds on what one account or one room can make the gateway hold.
public struct MUCConfiguration: Sendable {
    /// Whether the service runs.
    public var enabled = true
    /// Its address; empty: `rooms.<domain>`.
    public var address = ""
    /// Who may create a room. The hook is the gateway's (its roles); the server's default,
    /// for a server without roles, lets every account.
    public var mayCreateRooms: @Sendable (_ account: BareJID) -> Bool = { _ in true }
    /// Rooms one account may have created and still exist.
    public var maxRoomsPerAccount = 10
    /// Rooms on the service.
    public var maxRooms = 1000
    /// Occupants one room may hold (a room's own `maxusers` may only lower it).
    public var maxOccupants = 200
    /// Messages a room keeps for the history sent on join (a room's own setting may only
    /// lower it).
    public var maxHistory = 50
    /// Groupchat and private messages one occupant may send per second, with a burst of
    /// five times as many; beyond that they are refused (`resource-constraint`) and counted.
    public var messagesPerSecond = 5.0
    /// Bytes of a room's name, description, subject or password.
    public static let maxTextBytes = 1024
    /// Bytes of a room nickname.
    public static let maxNickBytes = 64
    /// Bytes of one groupchat or private message a room relays (as XML): a room fans each one
    /// out to every occupant, so the stream's 256 KiB would make one sender's message cost
    /// every occupant's connection that much.
    public static let maxMessageBytes = 32 << 10
    /// Bytes of history one room keeps, whatever its length in messages.
    public static let maxHistoryBytes = 256 << 10

    public init() {}

    /// The address for `domain`.
    public func address(for domain: String) -> String { address.isEmpty ? "rooms." + domain : address }
}
