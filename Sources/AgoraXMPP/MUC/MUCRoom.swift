internal import AgoraCore

/// One room in memory: what is durable (settings, affiliations, subject, history) and who
/// is in it now. A value, changed only under `MUCService`'s lock; deliveries are computed
/// there and sent after the lock is released.
struct MUCRoom: Sendable {
    /// The room's localpart: the room is `<localpart>@<service>`.
    let localpart: String
    var settings: MUCRoomSettings
    /// Every affiliation but `none`.
    var affiliations: [BareJID: MUCAffiliation]
    var subject = ""
    var subjectBy = ""
    /// Who created it: counted against that account's rooms.
    let creator: BareJID
    /// Created and not yet configured (§10.1.2): nobody but its owner may enter.
    var locked: Bool
    /// Occupants by their nickname's key (`MUCNick.key`).
    var occupants: [String: MUCOccupant] = [:]
    /// The newest messages, oldest first, at most the settings' history length.
    var history: [MUCHistoryEntry] = []
    /// Bytes of XML the history holds.
    var historyBytes = 0
    var nextSequence: UInt64 = 1

    func affiliation(of account: BareJID) -> MUCAffiliation { affiliations[account] ?? .none }

    /// The occupant `session` is, if it is in the room.
    func occupant(of session: Session) -> MUCOccupant? {
        occupants.values.first { $0.session === session }
    }

    /// Whether the room can be entered by `account` at all (before nick and password).
    func admits(_ account: BareJID) -> Bool {
        let affiliation = affiliation(of: account)
        return affiliation != .outcast && (!settings.membersOnly || affiliation >= .member)
    }

    /// Keeps `message` (of `bytes` bytes as XML) in the history, dropping the oldest beyond
    /// `limit` messages or `MUCConfiguration.maxHistoryBytes` in all.
    mutating func remember(_ message: XMLElement, bytes: Int, limit: Int) -> MUCHistoryEntry {
        let entry = MUCHistoryEntry(sequence: nextSequence, stamp: .now(), message: message, bytes: bytes)
        nextSequence += 1
        history.append(entry)
        historyBytes += bytes
        trimHistory(limit: limit)
        return entry
    }

    /// Drops the oldest messages beyond `limit` or the byte bound.
    mutating func trimHistory(limit: Int) {
        var drop = max(0, history.count - limit)
        var bytes = historyBytes
        for entry in history.prefix(drop) { bytes -= entry.bytes }
        while drop < history.count, bytes > MUCConfiguration.maxHistoryBytes {
            bytes -= history[drop].bytes
            drop += 1
        }
        history.removeFirst(drop)
        historyBytes = bytes
    }
}

/// Someone in a room: a session under a nickname.
struct MUCOccupant: Sendable {
    var nick: String
    let session: Session
    var role: MUCRole
    /// The presence it last sent the room (show, status, priority), without the MUC payload.
    var presence: XMLElement
    /// Its allowance of messages.
    var allowance: TokenBucket
}

/// A message of a room's history, as occupants received it.
struct MUCHistoryEntry: Sendable {
    let sequence: UInt64
    let stamp: Timestamp
    /// The groupchat message, `from` the sender's occupant JID, without `to`.
    let message: XMLElement
    /// Its size as XML: what it costs the history's byte bound.
    let bytes: Int
}

/// Room nicknames: 1…64 bytes, no control characters, not only spaces; two nicknames
/// that differ only by case or by surrounding spaces are the same (so "Alice" cannot
/// pass for "alice " in a room).
enum MUCNick {
    static func isValid(_ nick: String) -> Bool {
        let trimmed = nick.trimmingSpaces
        return !trimmed.isEmpty && nick.utf8.count <= MUCConfiguration.maxNickBytes
            && nick.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && !$0.properties.isDefaultIgnorableCodePoint }
    }

    static func key(_ nick: String) -> String { nick.trimmingSpaces.lowercased() }
}

extension String {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}
