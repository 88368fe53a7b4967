internal import AgoraCore
internal import AgoraStore
internal import AgoraXMPP
internal import NIOCore
internal import NIOConcurrencyHelpers

/// Live items for accounts with no available resource, in `live.pending` (key `subscriber ‖ 0
/// ‖ u64 sequence`, value the notification's bytes), delivered at the account's next available
/// presence. At most `limit` per account: the oldest are dropped beyond it and counted, since
/// the readings themselves stay in the store for the client to fetch.
///
/// Kept apart from offline messages (`xmpp.offline`): a busy sensor must not fill the
/// storage people's messages need, and chat is refused when full while items age out.
struct LivePending: Sendable {
    let store: Store
    let limit: Int
    private let sequence: NIOLockedValueBox<UInt64>

    init(store: Store, limit: Int) throws {
        self.store = store
        self.limit = max(1, limit)
        let highest = try store.read { txn -> UInt64 in
            var highest: UInt64 = 0
            try txn.scan(store.tables.livePending) { key, _ in
                if key.count >= 8, let value = StoreKey.readU64(key, at: key.count - 8) { highest = max(highest, value) }
                return true
            }
            return highest
        }
        sequence = NIOLockedValueBox(highest)
    }

    static func prefix(_ account: BareJID) -> [UInt8] { Array(account.description.utf8) + [0] }

    /// Stores each notification for its account in one write; returns how many older ones
    /// were dropped to stay within the limit.
    func keep(_ items: [(account: BareJID, stanza: XMLElement)]) async throws -> Int {
        guard !items.isEmpty else { return 0 }
        let rows = items.map { item in
            (item.account, sequence.withLockedValue { $0 += 1; return $0 }, Array(buffer: XMLWriter.bytes(item.stanza)))
        }
        let (table, limit) = (store.tables.livePending, limit)
        return try await store.write { txn in
            var dropped = 0
            for (account, number, bytes) in rows {
                try txn.put(table, Self.prefix(account) + StoreKey.u64(number), bytes)
            }
            for account in Set(rows.map(\.0)) {
                var keys: [[UInt8]] = []
                try txn.scan(table, prefix: Self.prefix(account)) { key, _ in keys.append(Array(key)); return true }
                for key in keys.dropLast(limit) { if try txn.delete(table, key) { dropped += 1 } }
            }
            return dropped
        }
    }

    /// Hands what waited for `session`'s account to it, oldest first, then forgets it.
    func deliver(to session: Session) async throws {
        let table = store.tables.livePending
        var pending: [(key: [UInt8], bytes: [UInt8])] = []
        try store.read { txn in
            try txn.scan(table, prefix: Self.prefix(session.bare)) { key, value in
                pending.append((Array(key), Array(value)))
                return true
            }
        }
        guard !pending.isEmpty else { return }
        // The stored stanzas are parsed as one stream, by one parser (as offline messages are).
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        _ = parser.feed(Array("<s xmlns='jabber:client'>".utf8), into: &events)
        var delivered: [[UInt8]] = []
        deliveries: for (key, bytes) in pending {
            events.removeAll(keepingCapacity: true)
            _ = parser.feed(bytes, into: &events)
            for case .element(var stanza) in events {
                stanza[attribute: "to"] = session.jidText
                // The session ended meanwhile: the rest waits for the next one.
                guard session.deliver(stanza) else { break deliveries }
            }
            delivered.append(key)
        }
        let done = delivered
        try await store.write { txn in for key in done { _ = try txn.delete(table, key) } }
    }
}
