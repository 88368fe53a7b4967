internal import AgoraCore
internal import AgoraStore
internal import FoundationEssentials
internal import Logging
internal import NIOConcurrencyHelpers

/// XEP-0313 Message Archive Management: every chat an account sends or receives, and every
/// groupchat message of a persistent room, kept in `xmpp.archive` for `retentionDays` and
/// at most `maxPerArchive` messages per archive (the oldest go first), queried by time,
/// by correspondent and page by page (XEP-0059).
///
/// Ids are time: microseconds since 1970 × 16 plus a sequence, so they sort by when the
/// message was archived, a time range is a key range, and a restart never reuses one.
/// Writes coalesce into one store transaction per round, as the store's writer batches.
final class MessageArchive: Sendable {
    struct Settings: Sendable {
        var retentionDays: Int
        var maxPerArchive: Int
    }

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
    private let pending = NIOLockedValueBox<(entries: [Entry], writing: Bool)>(([], false))
    /// Messages per archive, counted on first use, kept current after.
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    /// Archived messages one query scans at most to fill a page (a `with` filter over a
    /// huge archive answers an incomplete page rather than stalling).
    static let maxScan = 20_000
    static let maxPage = 250
    static let defaultPage = 50

    init(store: Store, settings: Settings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
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
        let entries = owners.map { Entry(owner: $0.owner, id: id, with: $0.with, message: stored) }
        let startWriter = pending.withLockedValue { state -> Bool in
            state.entries += entries
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        guard startWriter else { return }
        let started = work.start { [self] in await drain() }
        if !started { pending.withLockedValue { $0 = ([], false) } }
    }

    private func drain() async {
        while true {
            let batch = pending.withLockedValue { state -> [Entry] in
                defer { state.entries = [] }
                if state.entries.isEmpty { state.writing = false }
                return state.entries
            }
            if batch.isEmpty { return }
            do { try await write(batch) } catch {
                logger.error("archived messages not stored", metadata: ["messages": "\(batch.count)", "error": "\(error)"])
            }
        }
    }

    private func write(_ batch: [Entry]) async throws {
        let table = store.tables.archive
        let cutoff = (Self.micros(Date(timeIntervalSinceNow: -Double(settings.retentionDays) * 86_400))) << 4
        let limit = settings.maxPerArchive
        let owners = Set(batch.map(\.owner))
        // Counts of archives seen for the first time, from the store.
        let unknown = counts.withLockedValue { known in owners.filter { known[$0] == nil } }
        if !unknown.isEmpty {
            var found: [String: Int] = [:]
            try store.read { txn in
                for owner in unknown {
                    var count = 0
                    try txn.scan(table, prefix: Array(owner.utf8) + [0]) { _, _ in count += 1; return true }
                    found[owner] = count
                }
            }
            counts.withLockedValue { known in for (owner, count) in found where known[owner] == nil { known[owner] = count } }
        }
        let rows = batch.map { (Self.key($0.owner, $0.id), Array($0.with.utf8) + [0] + Array(buffer: XMLWriter.bytes($0.message))) }
        let adds = Dictionary(batch.map { ($0.owner, 1) }, uniquingKeysWith: +)
        let before = counts.withLockedValue { known in adds.keys.reduce(into: [String: Int]()) { $0[$1] = known[$1] ?? 0 } }
        let removed = try await store.write { txn -> [String: Int] in
            for (key, value) in rows { try txn.put(table, key, value) }
            // The oldest go: past retention, and beyond the bound (at most 1000 per archive per round).
            var removed: [String: Int] = [:]
            for (owner, added) in adds {
                var excess = (before[owner] ?? 0) + added - limit
                var stale: [[UInt8]] = []
                try txn.scan(table, prefix: Array(owner.utf8) + [0]) { key, _ in
                    guard stale.count < 1000, let id = StoreKey.readU64(Array(key.suffix(8))) else { return false }
                    guard excess > 0 || id < cutoff else { return false }
                    stale.append(Array(key))
                    excess -= 1
                    return true
                }
                for key in stale { _ = try txn.delete(table, key) }
                removed[owner] = stale.count
            }
            return removed
        }
        counts.withLockedValue { known in
            for (owner, added) in adds { known[owner] = (known[owner] ?? 0) + added - (removed[owner] ?? 0) }
        }
    }

    /// Waits until what was recorded so far is written (tests, and shutdown).
    func flushed() async {
        while pending.withLockedValue({ $0.writing }) { try? await Task.sleep(for: .milliseconds(5)) }
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
        let low = max(query.start.map { UInt64($0.seconds) * 1_000_000 << 4 } ?? 0, query.after.map { $0 + 1 } ?? 0)
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
