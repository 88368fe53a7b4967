public import AgoraCore
public import AgoraStore
internal import NIOConcurrencyHelpers
internal import NIOCore

/// Messages for accounts with no available resource (RFC 6121 §8.5.2.1.1), in the
/// `xmpp.offline` table keyed `owner ‖ 0 ‖ sequence`, stored with a XEP-0203 delay stamp.
///
/// Bounded per account three ways — messages, bytes, and bytes from any one sender — and a
/// message beyond a bound is refused with `resource-constraint` (XEP-0160: the sender learns
/// it was not stored; nothing already queued is dropped). The per-sender bound is what keeps
/// one account from filling another's storage so that everyone else's messages bounce.
///
/// Value: `0x01 ‖ u16 BE sender length ‖ sender bare JID ‖ stanza bytes`, so the sender's
/// share can be counted without parsing. Values written before the sender was kept are the
/// stanza alone (they begin with `<`); they count towards the account's bounds only.
public struct OfflineStore: Sendable {
    let store: Store
    public let limit: Int
    public let maxBytes: Int
    public let maxBytesPerSender: Int
    private let sequence = NIOLockedValueBox<UInt64>(0)

    /// Which bound refused a message (the metric's label).
    public enum Bound: String, Sendable {
        case count, bytes, senderBytes = "sender_bytes"
    }

    /// A message the recipient's storage has no room for; nothing was stored.
    public struct Refusal: Error, Sendable {
        public let bound: Bound
        public var stanzaError: StanzaError {
            switch bound {
            case .count, .bytes: StanzaError(.resourceConstraint, "the recipient's offline storage is full")
            case .senderBytes: StanzaError(.resourceConstraint, "your messages already fill your share of the recipient's offline storage")
            }
        }
    }

    /// - Parameters: maxBytes, maxBytesPerSender: 0 for no bound.
    public init(store: Store, limit: Int, maxBytes: Int = 2 << 20, maxBytesPerSender: Int = 512 << 10) {
        self.store = store
        self.limit = limit
        self.maxBytes = maxBytes
        self.maxBytesPerSender = maxBytesPerSender
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

    static let taggedValue: UInt8 = 0x01

    /// The stored value: the sender, then the stanza.
    static func value(_ stanza: [UInt8], sender: BareJID?) -> [UInt8] {
        let name = Array((sender?.description ?? "").utf8.prefix(Int(UInt16.max)))
        return [taggedValue, UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name + stanza
    }

    /// The sender and stanza of a stored value (no sender for values from before it was kept).
    static func parse(_ value: some Collection<UInt8>) -> (sender: ArraySlice<UInt8>?, stanza: ArraySlice<UInt8>) {
        let bytes = ArraySlice(value)
        guard bytes.first == taggedValue, bytes.count >= 3 else { return (nil, bytes) }
        let start = bytes.startIndex
        let length = Int(bytes[start + 1]) << 8 | Int(bytes[start + 2])
        guard bytes.count >= 3 + length else { return (nil, bytes) }
        return (bytes[(start + 3)..<(start + 3 + length)], bytes[(start + 3 + length)...])
    }

    /// Stores one stanza durably; throws `Refusal` when a bound of the account's storage
    /// would be passed, and stores nothing then.
    public func store(_ stanza: XMLElement, for owner: BareJID, from sender: BareJID?) async throws {
        let bytes = Array(buffer: XMLWriter.bytes(stanza))
        let next = sequence.withLockedValue { $0 += 1; return $0 }
        let tables = store.tables
        let (limit, maxBytes, maxBytesPerSender) = (limit, maxBytes, maxBytesPerSender)
        let senderName = ArraySlice((sender?.description ?? "").utf8)
        try await store.write { txn in
            var count = 0, total = 0, fromSender = 0
            try txn.scan(tables.offline, prefix: Self.prefix(owner)) { _, value in
                count += 1
                let parsed = Self.parse(value)
                total += parsed.stanza.count
                if let from = parsed.sender, from.elementsEqual(senderName) { fromSender += parsed.stanza.count }
                return true
            }
            if count >= limit { throw Refusal(bound: .count) }
            // Without a sender the server is putting back what it had already accepted (stream
            // management's unacknowledged stanzas of a closed session): only the count bounds it.
            if sender != nil {
                if maxBytes > 0, total + bytes.count > maxBytes { throw Refusal(bound: .bytes) }
                if maxBytesPerSender > 0, fromSender + bytes.count > maxBytesPerSender { throw Refusal(bound: .senderBytes) }
            }
            try txn.put(tables.offline, Self.prefix(owner) + StoreKey.u64(next), Self.value(bytes, sender: sender))
        }
    }

    /// The queued stanzas (oldest first), with their keys for `remove`.
    public func pending(for owner: BareJID) -> [(key: [UInt8], stanza: [UInt8])] {
        var result: [(key: [UInt8], stanza: [UInt8])] = []
        try? store.read { txn in
            try txn.scan(tables.offline, prefix: Self.prefix(owner)) { key, value in
                result.append((Array(key), Array(Self.parse(value).stanza)))
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
