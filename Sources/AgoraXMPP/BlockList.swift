internal import AgoraCore
internal import AgoraStore
internal import NIOConcurrencyHelpers

/// XEP-0191 Blocking Command: the addresses each account blocks, durable in
/// `xmpp.blocklist` and mirrored in memory, where routing asks on every stanza.
///
/// An item is a JID as the user wrote it (RFC 6120 §3 forms): `user@domain/resource`
/// blocks that resource, `user@domain` every resource of the account, `domain/resource`
/// and `domain` a whole service.
final class BlockList: Sendable {
    private let store: Store
    private let items = NIOLockedValueBox<[BareJID: Set<String>]>([:])

    /// Items one account may block.
    static let maxItems = 1000

    init(store: Store) throws {
        self.store = store
        var loaded: [BareJID: Set<String>] = [:]
        try store.read { txn in
            try txn.scan(store.tables.blocklist) { key, _ in
                guard let split = key.firstIndex(of: 0),
                      let owner = try? BareJID(String(decoding: key[..<split], as: UTF8.self)) else { return true }
                loaded[owner, default: []].insert(String(decoding: key[(split + 1)...], as: UTF8.self))
                return true
            }
        }
        items.withLockedValue { $0 = loaded }
    }

    static func key(_ owner: BareJID, _ item: String) -> [UInt8] { Array(owner.description.utf8) + [0] + Array(item.utf8) }

    func blocked(by owner: BareJID) -> [String] { items.withLockedValue { ($0[owner] ?? []).sorted() } }

    /// Whether `owner` blocks `jid` (XEP-0191 §3.4's matching).
    func blocks(_ owner: BareJID, _ jid: JID) -> Bool {
        items.withLockedValue { table in
            guard let set = table[owner], !set.isEmpty else { return false }
            let full = jid.description
            if set.contains(full) { return true }
            if let bare = jid.bare, set.contains(bare.description) { return true }
            if let resource = jid.resource, set.contains(jid.domain + "/" + resource) { return true }
            return set.contains(jid.domain)
        }
    }

    /// Adds items durably; refuses (and adds nothing) beyond `maxItems`.
    func block(_ owner: BareJID, _ new: [String]) async throws {
        let table = store.tables.blocklist, prefix = Array(owner.description.utf8) + [0]
        // Counted in the write itself: concurrent requests of one account cannot pass the bound.
        try await store.write { txn in
            var count = 0
            try txn.scan(table, prefix: prefix) { _, _ in count += 1; return true }
            for item in Set(new) where try !txn.contains(table, Self.key(owner, item)) { count += 1 }
            guard count <= Self.maxItems else {
                throw StanzaError(.resourceConstraint, "an account may block at most \(Self.maxItems) addresses")
            }
            for item in new { try txn.put(table, Self.key(owner, item), []) }
        }
        items.withLockedValue { $0[owner, default: []].formUnion(new) }
    }

    /// Removes items durably (all of them when `removed` is nil); returns what was removed.
    func unblock(_ owner: BareJID, _ removed: [String]?) async throws -> [String] {
        let gone = items.withLockedValue { table in removed.map { Array(Set($0).intersection(table[owner] ?? [])) } ?? Array(table[owner] ?? []) }
        let table = store.tables.blocklist
        try await store.write { txn in for item in gone { _ = try txn.delete(table, Self.key(owner, item)) } }
        items.withLockedValue { table in
            table[owner]?.subtract(gone)
            if table[owner]?.isEmpty == true { table[owner] = nil }
        }
        return gone
    }
}
