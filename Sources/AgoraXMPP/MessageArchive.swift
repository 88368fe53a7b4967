internal import AgoraCore
internal import AgoraStore
internal import FoundationEssentials
internal import Logging
internal import NIOConcurrencyHelpers

/// XEP-0313 Message Archive Management: every chat an account sends or receives, and every
/// groupchat message of a persistent room, kept in `xmpp.archive` for `retentionDays` and
/// at most `maxPerArchive` messages and `maxBytesPerArchive` bytes per archive (the oldest
/// go first), queried by time, by correspondent and page by page (XEP-0059).
///
/// Ids are time: microseconds since 1970 × 16 plus a sequence, so they sort by when the
/// message was archived, a time range is a key range, and a restart never reuses one.
/// Writes coalesce into one store transaction per round, as the store's writer batches.
final class MessageArchive: Sendable {
    struct Settings: Sendable {
        var retentionDays: Int
        var maxPerArchive: Int
        /// Bytes one archive keeps at most (the oldest go first): with the count, what bounds
        /// what one account can make the gateway store in another's archive.
        var maxBytesPerArchive = 32 << 20
    }

    /// A message larger than this is delivered but not archived.
    static let maxMessageBytes = 64 << 10

    struct Entry: Sendable {
        let owner: String
        let id: UInt64
        let with: String
        let message: XMLElement
    }

    private let store: Store
    let settings: Settings
    private let logger: Logger
    private let lastID = NIOLockedValueBox<UInt64>(0)
    private let pending: CoalescingWriter<Entry>
    /// Messages and bytes per archive, counted on first use, kept current after.
    private let counts = NIOLockedValueBox<[String: (messages: Int, bytes: Int)]>([:])

    /// Archived messages one query scans at most to fill a page (a `with` filter over a
    /// huge archive answers an incomplete page rather than stalling).
    static let maxScan = 20_000
    static let maxPage = 250
    static let defaultPage = 50

    init(store: Store, settings: Settings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
        pending = CoalescingWriter()
    }

    var enabled: Bool { settings.retentionDays > 0 && settings.maxPerArchive > 0 }

    static func micros(_ date: Date = Date()) -> UInt64 { UInt64(max(0, date.timeIntervalSince1970 * 1_000_000)) }

    private func nextID() -> UInt64 {
        let now = Self.micros() << 4
        return lastID.withLockedValue { last in
            last = max(last + 1, now)
            return last
        }
    }

    static func key(_ owner: String, _ id: UInt64) -> [UInt8] { Array(owner.utf8) + [0] + StoreKey.u64(id) }

    /// The time an id was given.
    static func stamp(_ id: UInt64) -> Timestamp { (try? Timestamp(seconds: Int64((id >> 4) / 1_000_000))) ?? .now() }

    /// Whether `message` is kept: a chat, or a normal message with a body, and not one its
    /// sender asked not to be stored (XEP-0334).
    static func isArchivable(_ message: XMLElement) -> Bool {
        let type = message[attribute: "type"] ?? "normal"
        guard message.child("body") != nil, type == "chat" || type == "normal" || type == "groupchat" else { return false }
        return message.child("no-store", namespace: MessageCarbons.hints) == nil && message.child("no-permanent-store", namespace: MessageCarbons.hints) == nil
    }

    /// Archives `message` for each owner (with its correspondent); the write follows.
    func record(_ message: XMLElement, for owners: [(owner: String, with: String)], work: ServerWork) {
        guard enabled, !owners.isEmpty else { return }
        var stored = message
        stored.namespace = Namespace.client
        let id = nextID()
        pending.append(owners.map { Entry(owner: $0.owner, id: id, with: $0.with, message: stored) }, on: work) { [self] batch in
            do { try await write(batch) } catch {
                logger.error("archived messages not stored", metadata: ["messages": "\(batch.count)", "error": "\(error)"])
            }
        }
    }

    /// The oldest id retention keeps now.
    private var cutoff: UInt64 { Self.micros(Date(timeIntervalSinceNow: -Double(settings.retentionDays) * 86_400)) << 4 }

    private func write(_ batch: [Entry]) async throws {
        let table = store.tables.archive
        let cutoff = cutoff
        let (limit, maxBytes) = (settings.maxPerArchive, settings.maxBytesPerArchive)
        let owners = Set(batch.map(\.owner))
        // Sizes of archives seen for the first time, from the store.
        let unknown = counts.withLockedValue { known in owners.filter { known[$0] == nil } }
        if !unknown.isEmpty {
            var found: [String: (Int, Int)] = [:]
            try store.read { txn in
                for owner in unknown {
                    var count = 0, bytes = 0
                    try txn.scan(table, prefix: Array(owner.utf8) + [0]) { _, value in count += 1; bytes += value.count; return true }
                    found[owner] = (count, bytes)
                }
            }
            counts.withLockedValue { known in for (owner, size) in found where known[owner] == nil { known[owner] = size } }
        }
        let rows = batch.compactMap { entry -> (owner: String, key: [UInt8], value: [UInt8])? in
            let value = Array(entry.with.utf8) + [0] + Array(buffer: XMLWriter.bytes(entry.message))
            return value.count <= Self.maxMessageBytes ? (entry.owner, Self.key(entry.owner, entry.id), value) : nil
        }
        var added: [String: (messages: Int, bytes: Int)] = [:]
        for row in rows { added[row.owner, default: (0, 0)].messages += 1; added[row.owner, default: (0, 0)].bytes += row.value.count }
        let adds = added
        let before = counts.withLockedValue { known in adds.keys.reduce(into: [String: (messages: Int, bytes: Int)]()) { $0[$1] = known[$1] ?? (0, 0) } }
        let removed = try await store.write { txn -> [String: (messages: Int, bytes: Int)] in
            for row in rows { try txn.put(table, row.key, row.value) }
            // The oldest go: past retention, and beyond either bound (at most 1000 per archive per round).
            var removed: [String: (messages: Int, bytes: Int)] = [:]
            for (owner, added) in adds {
                var excess = (before[owner]?.messages ?? 0) + added.messages - limit
                var excessBytes = (before[owner]?.bytes ?? 0) + added.bytes - maxBytes
                var stale: [[UInt8]] = [], staleBytes = 0
                try txn.scan(table, prefix: Array(owner.utf8) + [0]) { key, value in
                    guard stale.count < 1000, let id = StoreKey.readU64(Array(key.suffix(8))) else { return false }
                    guard excess > 0 || excessBytes > 0 || id < cutoff else { return false }
                    stale.append(Array(key))
                    staleBytes += value.count
                    excess -= 1
                    excessBytes -= value.count
                    return true
                }
                for key in stale { _ = try txn.delete(table, key) }
                removed[owner] = (stale.count, staleBytes)
            }
            return removed
        }
        counts.withLockedValue { known in
            for (owner, added) in adds {
                let was = known[owner] ?? (0, 0), gone = removed[owner] ?? (0, 0)
                known[owner] = (was.messages + added.messages - gone.messages, was.bytes + added.bytes - gone.bytes)
            }
        }
    }

    /// Waits (at most a second) until what was recorded before the call is written: a query
    /// sees the messages its client saw delivered.
    func flushed() async { await pending.flushed() }

    /// Removes a whole archive (a destroyed room's), in rounds of 10 000 rows.
    func remove(_ owner: String) async throws {
        let table = store.tables.archive, prefix = Array(owner.utf8) + [0]
        while true {
            let removed = try await store.write { txn -> Int in
                var keys: [[UInt8]] = []
                try txn.scan(table, prefix: prefix) { key, _ in keys.append(Array(key)); return keys.count < 10_000 }
                for key in keys { _ = try txn.delete(table, key) }
                return keys.count
            }
            if removed < 10_000 { break }
        }
        counts.withLockedValue { $0[owner] = nil }
    }

    // MARK: Queries

    struct Query: Sendable {
        var with: JID?
        var start: Timestamp?
        var end: Timestamp?
        /// RSM: the page after this id, or before it; `lastPage`: the newest page.
        var after: UInt64?
        var before: UInt64?
        var lastPage = false
        var max = MessageArchive.defaultPage
    }

    struct Page: Sendable {
        var items: [(id: UInt64, message: XMLElement)]
        /// No more items in the direction of paging.
        var complete: Bool
    }

    func page(of owner: String, _ query: Query) throws -> Page {
        let table = store.tables.archive
        let prefix = Array(owner.utf8) + [0]
        // What retention would have dropped is not served, even before a write prunes it.
        let low = max(query.start.map { UInt64($0.seconds) * 1_000_000 << 4 } ?? 0, query.after.map { $0 + 1 } ?? 0, cutoff)
        var high = query.end.map { (UInt64($0.seconds + 1) * 1_000_000 << 4) } ?? UInt64.max
        if let before = query.before { high = min(high, before) }
        let backwards = query.before != nil || query.lastPage
        let with = query.with?.description
        var items: [(id: UInt64, message: XMLElement)] = []
        var reader = StoredStanzaReader()
        var complete = true
        try store.read { txn in
            var scanned = 0
            func visit(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
                guard let id = StoreKey.readU64(Array(key.suffix(8))) else { return true }
                guard id >= low, id < high else { return !backwards ? id < high : id >= low }
                scanned += 1
                if scanned > Self.maxScan { complete = false; return false }
                guard let split = value.firstIndex(of: 0) else { return true }
                if let with {
                    let other = String(decoding: value[..<split], as: UTF8.self)
                    let matches = query.with?.resource == nil ? (other == with || other.hasPrefix(with + "/")) : other == with
                    guard matches else { return true }
                }
                guard items.count < query.max else { complete = false; return false }
                if let message = reader.stanzas(in: Array(value[(split + 1)...])).first { items.append((id, message)) }
                return true
            }
            if backwards {
                // The seek may land past this archive (another's keys, or none): those are skipped
                // until its own keys begin, and its first key before them ends the scan.
                var entered = false
                try txn.scanReverse(table, from: prefix + StoreKey.u64(high)) { key, value in
                    guard key.count == prefix.count + 8, key.prefix(prefix.count).elementsEqual(prefix) else {
                        return !entered && !key.lexicographicallyPrecedes(prefix)
                    }
                    entered = true
                    return visit(key, value)
                }
                items.reverse()
            } else {
                try txn.scan(table, from: prefix + StoreKey.u64(low)) { key, value in
                    guard key.count == prefix.count + 8, key.prefix(prefix.count).elementsEqual(prefix) else { return false }
                    return visit(key, value)
                }
            }
        }
        return Page(items: items, complete: complete)
    }
}
