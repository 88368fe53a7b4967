public import AgoraCore
public import AgoraStore

/// Rosters in the `xmpp.roster` table, keyed `owner ‖ 0 ‖ contact`.
public struct RosterStore: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    /// RFC 6121 leaves the size open; 1000 contacts is far beyond a gateway's needs and
    /// keeps one roster get bounded.
    public static let maxItems = 1000

    static func key(_ owner: BareJID, _ contact: BareJID) -> [UInt8] {
        var key = StoreKey()
        key.append(text: owner.description)
        return key.bytes + Array(contact.description.utf8)
    }

    public func items(of owner: BareJID) -> [RosterItem] {
        var prefix = StoreKey()
        prefix.append(text: owner.description)
        let prefixCount = prefix.bytes.count
        var items: [RosterItem] = []
        try? store.read { txn in
            try txn.scan(store.tables.roster, prefix: prefix.bytes) { key, value in
                if let contact = try? BareJID(String(decoding: key[prefixCount...], as: UTF8.self)),
                   let item = RosterItem(contact: contact, decoding: Array(value)) {
                    items.append(item)
                }
                return items.count < Self.maxItems
            }
        }
        return items
    }

    public func item(of owner: BareJID, contact: BareJID) -> RosterItem? {
        guard let bytes = try? store.read({ try $0.get(store.tables.roster, Self.key(owner, contact)) }) else { return nil }
        return RosterItem(contact: contact, decoding: bytes)
    }

    /// Applies `change` to the item (nil: absent) and stores the result (nil: delete),
    /// in one durable transaction. Returns the stored item, or nil when deleted.
    public func update(owner: BareJID, contact: BareJID,
                       _ change: @escaping @Sendable (RosterItem?) throws -> RosterItem?) async throws -> RosterItem? {
        let tables = store.tables
        return try await store.write { txn in
            let key = Self.key(owner, contact)
            let current = try txn.get(tables.roster, key).flatMap { RosterItem(contact: contact, decoding: $0) }
            guard let next = try change(current) else {
                _ = try txn.delete(tables.roster, key)
                return nil
            }
            if current == nil {
                var prefix = StoreKey()
                prefix.append(text: owner.description)
                var count = 0
                try txn.scan(tables.roster, prefix: prefix.bytes) { _, _ in count += 1; return count < Self.maxItems }
                guard count < Self.maxItems else { throw StanzaError(.resourceConstraint, "the roster is full (\(Self.maxItems) items)") }
            }
            try txn.put(tables.roster, key, next.encoded)
            return next
        }
    }
}
