public import AgoraCore
public import AgoraStore
internal import NIOConcurrencyHelpers
internal import NIOCore

/// Messages for accounts with no available resource (RFC 6121 §8.5.2.1.1), in the
/// `xmpp.offline` table keyed `owner ‖ 0 ‖ sequence`, stored as the stanza's bytes with a
/// XEP-0203 delay stamp. Bounded per account: beyond `limit` the sender gets an error.
public struct OfflineStore: Sendable {
    let store: Store
    public let limit: Int
    private let sequence = NIOLockedValueBox<UInt64>(0)

    public init(store: Store, limit: Int) {
        self.store = store
        self.limit = limit
        // Continue after the largest sequence any account holds, so keys only grow.
        let last = (try? store.read { txn -> UInt64 in
            var highest: UInt64 = 0
            try txn.scan(store.tables.offline) { key, _ in
                if key.count >= 8, let value = StoreKey.readU64(key, at: key.count - 8) { highest = max(highest, value) }
                return true
            }
            return highest
        }) ?? 0
        sequence.withLockedValue { $0 = last }
    }

    static func prefix(_ owner: BareJID) -> [UInt8] {
        var key = StoreKey()
        key.append(text: owner.description)
        return key.bytes
    }

    /// Stores one stanza durably; throws `resource-constraint` when the account's queue is full.
    public func store(_ stanza: XMLElement, for owner: BareJID) async throws {
        let bytes = Array(buffer: XMLWriter.bytes(stanza))
        let next = sequence.withLockedValue { $0 += 1; return $0 }
        let tables = store.tables
        let limit = limit
        try await store.write { txn in
            var count = 0
            try txn.scan(tables.offline, prefix: Self.prefix(owner)) { _, _ in count += 1; return count < limit }
            guard count < limit else { throw StanzaError(.resourceConstraint, "the recipient's offline storage is full") }
            try txn.put(tables.offline, Self.prefix(owner) + StoreKey.u64(next), bytes)
        }
    }

    /// The queued stanzas (oldest first), with their keys for `remove`.
    public func pending(for owner: BareJID) -> [(key: [UInt8], stanza: [UInt8])] {
        var result: [(key: [UInt8], stanza: [UInt8])] = []
        try? store.read { txn in
            try txn.scan(tables.offline, prefix: Self.prefix(owner)) { key, value in
                result.append((Array(key), Array(value)))
                return result.count < limit
            }
        }
        return result
    }

    private var tables: Tables { store.tables }

    public func remove(_ keys: [[UInt8]]) async throws {
        guard !keys.isEmpty else { return }
        let tables = store.tables
        try await store.write { txn in for key in keys { _ = try txn.delete(tables.offline, key) } }
    }
}
