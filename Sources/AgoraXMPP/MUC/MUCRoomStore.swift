internal import AgoraCore
internal import AgoraStore
internal import FoundationEssentials
internal import NIOCore

/// Durable rooms: `muc.rooms` holds each room's settings, affiliations and subject as JSON
/// (key: its localpart); `muc.history` its newest messages (key: room ‖ 0 ‖ sequence u64 BE,
/// value: time in seconds u64 BE ‖ the message's XML). Temporary rooms and occupants are
/// never written: a restart empties every room of people, not of members.
struct MUCRoomStore: Sendable {
    let store: Store

    private struct Record: Codable {
        var settings: MUCRoomSettings
        var affiliations: [String: MUCAffiliation]
        var subject: String
        var subjectBy: String
        var creator: String
    }

    /// Every stored room with its history, for the service's start.
    func load(historyLimit: Int) throws -> [MUCRoom] {
        let decoder = JSONDecoder()
        var rooms: [MUCRoom] = []
        var reader = StoredStanzaReader()
        try store.read { txn in
            try txn.scan(store.tables.mucRooms) { key, value in
                let localpart = String(decoding: key, as: UTF8.self)
                guard let record = try? decoder.decode(Record.self, from: Data(value)),
                      let creator = try? BareJID(record.creator) else { return true }
                var affiliations: [BareJID: MUCAffiliation] = [:]
                for (jid, affiliation) in record.affiliations { if let jid = try? BareJID(jid) { affiliations[jid] = affiliation } }
                var room = MUCRoom(localpart: localpart, settings: record.settings, affiliations: affiliations,
                                   subject: record.subject, subjectBy: record.subjectBy, creator: creator, locked: false)
                try txn.scan(store.tables.mucHistory, prefix: Array(localpart.utf8) + [0]) { key, value in
                    guard key.count >= 8, value.count > 8, let sequence = StoreKey.readU64(Array(key.suffix(8))),
                          let seconds = StoreKey.readU64(Array(value.prefix(8))),
                          let stamp = try? Timestamp(seconds: Int64(seconds)),
                          let message = reader.stanzas(in: Array(value.dropFirst(8))).first else { return true }
                    room.history.append(MUCHistoryEntry(sequence: sequence, stamp: stamp, message: message, bytes: value.count - 8))
                    room.historyBytes += value.count - 8
                    room.nextSequence = sequence + 1
                    return true
                }
                room.trimHistory(limit: min(historyLimit, room.settings.historyLength))
                rooms.append(room)
                return true
            }
        }
        return rooms
    }

    /// Writes a room's settings, affiliations and subject.
    func put(_ room: MUCRoom) async throws {
        let record = Record(settings: room.settings, affiliations: Dictionary(uniqueKeysWithValues: room.affiliations.map { ($0.description, $1) }),
                            subject: room.subject, subjectBy: room.subjectBy, creator: room.creator.description)
        let value = Array(try JSONEncoder().encode(record))
        let key = Array(room.localpart.utf8)
        let table = store.tables.mucRooms
        try await store.write { txn in try txn.put(table, key, value) }
    }

    /// Removes a room and its history.
    func remove(_ localpart: String) async throws {
        let tables = store.tables
        let prefix = Array(localpart.utf8) + [0]
        try await store.write { txn in
            _ = try txn.delete(tables.mucRooms, Array(localpart.utf8))
            var keys: [[UInt8]] = []
            try txn.scan(tables.mucHistory, prefix: prefix) { key, _ in keys.append(Array(key)); return true }
            for key in keys { _ = try txn.delete(tables.mucHistory, key) }
        }
    }

    /// Appends messages to rooms' histories and drops, per room, what is older than the
    /// newest `keep` (its history length then).
    func append(_ entries: [(room: String, entry: MUCHistoryEntry, keep: Int)]) async throws {
        let table = store.tables.mucHistory, roomsTable = store.tables.mucRooms
        let rows = entries.map { item -> (room: [UInt8], key: [UInt8], value: [UInt8], stale: [UInt8]?) in
            let prefix = Array(item.room.utf8) + [0]
            let value = StoreKey.u64(UInt64(item.entry.stamp.seconds)) + Array(buffer: XMLWriter.bytes(item.entry.message))
            let stale = item.entry.sequence > UInt64(item.keep) ? prefix + StoreKey.u64(item.entry.sequence - UInt64(item.keep)) : nil
            return (Array(item.room.utf8), prefix + StoreKey.u64(item.entry.sequence), value, stale)
        }
        try await store.write { txn in
            // A room removed meanwhile keeps no history (a new room of that name would show it).
            for row in rows where try txn.contains(roomsTable, row.room) {
                try txn.put(table, row.key, row.value)
                if let stale = row.stale { _ = try txn.delete(table, stale) }
            }
        }
    }

    /// Drops a room's history beyond its newest `keep` messages (its length was lowered).
    func trim(_ localpart: String, keepingFrom sequence: UInt64) async throws {
        let table = store.tables.mucHistory
        let prefix = Array(localpart.utf8) + [0]
        try await store.write { txn in
            var stale: [[UInt8]] = []
            try txn.scan(table, prefix: prefix) { key, _ in
                if let found = StoreKey.readU64(Array(key.suffix(8))), found < sequence { stale.append(Array(key)) }
                return true
            }
            for key in stale { _ = try txn.delete(table, key) }
        }
    }
}
