internal import AgoraCore
internal import AgoraStore
internal import FoundationEssentials

/// The nodes and items of XEP-0163 personal eventing, durable in `xmpp.pep`: what clients
/// keep about their account (XEP-0402 bookmarks, nickname, avatar metadata), bounded per
/// account, per node and per item.
struct PEPStore: Sendable {
    let store: Store

    /// Who may read a node's items besides its owner (XEP-0060 §4.5): everyone, the
    /// contacts with a presence subscription to the owner, or nobody.
    enum AccessModel: String, Sendable, Codable { case open, presence, whitelist }

    struct NodeConfiguration: Sendable, Codable, Equatable {
        var accessModel: AccessModel = .presence
        /// Items kept; the oldest go beyond.
        var maxItems = 1
    }

    /// What a publish asked of the node (XEP-0223 publish-options): only the settings it
    /// names are preconditions on an existing node; a new node takes them, defaults otherwise.
    struct Options: Sendable, Equatable {
        var accessModel: AccessModel?
        var maxItems: Int?

        func holds(for node: NodeConfiguration) -> Bool {
            (accessModel == nil || accessModel == node.accessModel) && (maxItems == nil || maxItems == node.maxItems)
        }

        var newNode: NodeConfiguration {
            var node = NodeConfiguration()
            if let accessModel { node.accessModel = accessModel }
            if let maxItems { node.maxItems = maxItems }
            return node
        }
    }

    static let maxNodes = 64
    static let maxItemsPerNode = 256
    static let maxItemBytes = 64 << 10
    /// Bytes of items one account keeps in all (an avatar, bookmarks, a nickname fit easily).
    static let maxAccountBytes = 4 << 20

    struct Refusal: Error {
        let error: StanzaError
    }

    private static func nodePrefix(_ owner: BareJID, _ node: String) -> [UInt8] { Array(owner.description.utf8) + [0] + Array(node.utf8) }
    private static func configKey(_ owner: BareJID, _ node: String) -> [UInt8] { nodePrefix(owner, node) + [0] }
    private static func itemPrefix(_ owner: BareJID, _ node: String) -> [UInt8] { nodePrefix(owner, node) + [1] }

    func configuration(_ owner: BareJID, _ node: String) throws -> NodeConfiguration? {
        try store.read { txn in try txn.get(store.tables.pep, Self.configKey(owner, node)) }
            .flatMap { try? JSONDecoder().decode(NodeConfiguration.self, from: Data($0)) }
    }

    /// The node's items, oldest first; only those named by `ids` when given.
    func items(_ owner: BareJID, _ node: String, ids: [String]? = nil) throws -> [(id: String, payload: XMLElement)] {
        var reader = StoredStanzaReader()
        var items: [(String, XMLElement)] = []
        try store.read { txn in
            try txn.scan(store.tables.pep, prefix: Self.itemPrefix(owner, node)) { _, value in
                guard let split = value.firstIndex(of: 0) else { return true }
                let id = String(decoding: value[..<split], as: UTF8.self)
                if let ids, !ids.contains(id) { return true }
                if let payload = reader.stanzas(in: Array(value[(split + 1)...])).first { items.append((id, payload)) }
                return true
            }
        }
        return items
    }

    /// Publishes `payload` as item `id` (replacing an item of that id), creating the node with
    /// `options` when it is new; an existing node whose configuration differs from `options`
    /// refuses (XEP-0223 §4.3's precondition). Returns the node's configuration.
    func publish(_ owner: BareJID, _ node: String, id: String, payload: XMLElement, options: Options?) async throws -> NodeConfiguration {
        let bytes = Array(buffer: XMLWriter.bytes(payload, parentNamespace: PersonalEventing.pubsub))
        guard bytes.count <= Self.maxItemBytes else {
            throw Refusal(error: StanzaError(.notAcceptable, "an item is at most \(Self.maxItemBytes / 1024) KiB"))
        }
        let table = store.tables.pep
        let configKey = Self.configKey(owner, node), itemPrefix = Self.itemPrefix(owner, node), accountPrefix = Array(owner.description.utf8) + [0]
        return try await store.write { txn -> NodeConfiguration in
            var configuration: NodeConfiguration
            if let stored = try txn.get(table, configKey), let existing = try? JSONDecoder().decode(NodeConfiguration.self, from: Data(stored)) {
                if let options, !options.holds(for: existing) {
                    throw Refusal(error: StanzaError(.conflict, "the node exists with another configuration",
                                                     applicationCondition: XMLElement("precondition-not-met", namespace: PersonalEventing.errors)))
                }
                configuration = existing
            } else {
                var nodes = 0
                try txn.scan(table, prefix: accountPrefix) { key, _ in
                    // A node's name has no control characters: the first 0x00 or 0x01 after the
                    // account ends it, and a configuration key ends right there with 0x00.
                    let rest = key.dropFirst(accountPrefix.count)
                    if let end = rest.firstIndex(where: { $0 < 2 }), rest[end] == 0, end == key.count - 1 { nodes += 1 }
                    return nodes < Self.maxNodes
                }
                guard nodes < Self.maxNodes else {
                    throw Refusal(error: StanzaError(.resourceConstraint, "an account keeps at most \(Self.maxNodes) nodes"))
                }
                configuration = options?.newNode ?? NodeConfiguration()
                try txn.put(table, configKey, Array(try JSONEncoder().encode(configuration)))
            }
            // The account's items in all, against its byte bound (a few thousand rows at most).
            var accountBytes = 0
            try txn.scan(table, prefix: accountPrefix) { _, value in accountBytes += value.count; return true }
            guard accountBytes + bytes.count <= Self.maxAccountBytes else {
                throw Refusal(error: StanzaError(.resourceConstraint, "an account keeps at most \(Self.maxAccountBytes >> 20) MiB of published items"))
            }
            // Existing items: the one of this id goes (it is replaced), the oldest beyond the bound go.
            var existing: [(key: [UInt8], id: String)] = []
            var last: UInt64 = 0
            try txn.scan(table, prefix: itemPrefix) { key, value in
                let itemID = value.firstIndex(of: 0).map { String(decoding: value[..<$0], as: UTF8.self) } ?? ""
                existing.append((Array(key), itemID))
                last = StoreKey.readU64(Array(key.suffix(8))) ?? last
                return true
            }
            for item in existing where item.id == id { _ = try txn.delete(table, item.key) }
            let kept = existing.filter { $0.id != id }
            for item in kept.prefix(max(0, kept.count + 1 - configuration.maxItems)) { _ = try txn.delete(table, item.key) }
            try txn.put(table, itemPrefix + StoreKey.u64(last + 1), Array(id.utf8) + [0] + bytes)
            return configuration
        }
    }

    /// Removes item `id`; whether there was one.
    func retract(_ owner: BareJID, _ node: String, id: String) async throws -> Bool {
        let table = store.tables.pep, prefix = Self.itemPrefix(owner, node)
        return try await store.write { txn -> Bool in
            var found: [UInt8]?
            try txn.scan(table, prefix: prefix) { key, value in
                if let split = value.firstIndex(of: 0), String(decoding: value[..<split], as: UTF8.self) == id { found = Array(key); return false }
                return true
            }
            guard let found else { return false }
            return try txn.delete(table, found)
        }
    }

    /// Removes a node and its items; whether it existed.
    func delete(_ owner: BareJID, _ node: String) async throws -> Bool {
        let table = store.tables.pep, prefix = Self.nodePrefix(owner, node), configKey = Self.configKey(owner, node)
        return try await store.write { txn -> Bool in
            guard try txn.contains(table, configKey) else { return false }
            var keys: [[UInt8]] = []
            try txn.scan(table, prefix: prefix) { key, _ in
                // Only this node's keys: its configuration, and items (prefix ‖ 0x01 ‖ 8 bytes).
                if key.count == configKey.count || (key.count == prefix.count + 9 && key[prefix.count] == 1) { keys.append(Array(key)) }
                return true
            }
            for key in keys { _ = try txn.delete(table, key) }
            return true
        }
    }
}
