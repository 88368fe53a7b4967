internal import AgoraCore
internal import AgoraStore
internal import AgoraXMPP
internal import NIOCore
internal import NIOConcurrencyHelpers

/// Live items for accounts with no available resource, in `live.pending` (key `subscriber ‖ 0
/// ‖ u64 sequence`, value the notification's bytes), delivered at the account's next available
/// presence. At most `limit` per account and `maxBytes` of them (16 MiB): the oldest are dropped beyond and counted, since
/// the readings themselves stay in the store for the client to fetch.
///
/// Kept apart from offline messages (`xmpp.offline`): a busy sensor must not fill the
/// storage people's messages need, and chat is refused when full while items age out.
struct LivePending: Sendable {
    let store: Store
    let limit: Int
    /// Bytes kept per account (items with proofs are large), beyond which the oldest go too.
    let maxBytes: Int
    private let sequence: NIOLockedValueBox<UInt64>

    init(store: Store, limit: Int, maxBytes: Int = 16 << 20) throws {
        self.store = store
        self.limit = max(1, limit)
        self.maxBytes = max(1, maxBytes)
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
        let (table, limit, maxBytes) = (store.tables.livePending, limit, maxBytes)
        return try await store.write { txn in
            var dropped = 0
            for (account, number, bytes) in rows {
                try txn.put(table, Self.prefix(account) + StoreKey.u64(number), bytes)
            }
            for account in Set(rows.map(\.0)) {
                var kept: [(key: [UInt8], bytes: Int)] = []
                try txn.scan(table, prefix: Self.prefix(account)) { key, value in kept.append((Array(key), value.count)); return true }
                // The newest first: keep what fits both bounds, drop the rest (the oldest).
                var count = 0, bytes = 0
                for row in kept.reversed() {
                    count += 1
                    bytes += row.bytes
                    if count > limit || bytes > maxBytes, try txn.delete(table, row.key) { dropped += 1 }
                }
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
        var reader = StoredStanzaReader()
        var delivered: [[UInt8]] = []
        deliveries: for (key, bytes) in pending {
            for var stanza in reader.stanzas(in: bytes) {
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
