internal import AgoraCore
public import AgoraStore
internal import Logging
#if canImport(Glibc)
internal import Glibc
#endif

/// `ledger verify --replay`: rebuilds every ledger-derived table from the entries alone,
/// in a scratch store, and compares it byte for byte with the live one.
///
/// Proves the principle "the ledger is the source of truth; tables are views": a table
/// row that no entry explains, or an entry whose effect is missing, shows up as the
/// first differing key.
public enum Replay {
    public struct Report: Sendable {
        public var entries: UInt64 = 0
        public var tablesCompared: [String] = []
    }

    /// Entries applied per scratch write request.
    static let chunk: UInt64 = 8192

    public static func verify(store: Store, scratchDirectory: String,
                              progress: ((UInt64, UInt64) -> Void)? = nil) async throws -> Report {
        let path = scratchDirectory + "/replay.mdb"
        unlink(path)
        unlink(path + "-lock")
        defer {
            unlink(path)
            unlink(path + "-lock")
        }
        let scratch = try Store(path: path, options: .init(mapSize: max(store.environment.currentMapSize, 1 << 28), maxMapSize: store.environment.maxMapSize),
                                logger: Logger(label: "agora.replay"))
        defer { scratch.close() }
        let projection = Projection(tables: scratch.tables)
        let source = store.tables
        let total = try store.read { UInt64(try $0.count(source.ledgerEntries)) }
        var position: UInt64 = 0
        while position < total {
            let end = min(total, position + chunk)
            let entries: [(UInt64, LedgerEntry, [UInt8])] = try store.read { txn in
                var result: [(UInt64, LedgerEntry, [UInt8])] = []
                var index = position
                try txn.scan(source.ledgerEntries, from: StoreKey.u64(position)) { _, value in
                    guard index < end else { return false }
                    let bytes = Array(value)
                    do { result.append((index, try LedgerEntry(decoding: bytes), bytes)) } catch {
                        throw StoreError.corrupted("ledger entry \(index) cannot be decoded: \(error)")
                    }
                    index += 1
                    return true
                }
                return result
            }
            try await scratch.write { txn in
                for (index, entry, bytes) in entries { try projection.apply(entry, encoded: bytes, index: index, in: txn) }
            }
            position = end
            progress?(position, total)
        }
        var report = Report(entries: total)
        let pairs = zip(source.derivedFromLedger, scratch.tables.derivedFromLedger)
        try store.read { live in
            try scratch.read { rebuilt in
                for (lhs, rhs) in pairs {
                    if let difference = try TableDiff.firstDifference(lhs, in: live, rhs, in: rebuilt) {
                        throw ReplayMismatch(difference: difference.description)
                    }
                    report.tablesCompared.append(lhs.name)
                }
                for key in MarketKeys.derivedMeta {
                    guard try live.get(source.meta, key) == rebuilt.get(scratch.tables.meta, key) else {
                        throw ReplayMismatch(difference: "meta \(String(decoding: key, as: UTF8.self)) differs from the replayed value")
                    }
                }
                report.tablesCompared.append("meta (derived counters)")
            }
        }
        return report
    }
}

/// Replay rebuilt tables that differ from the live ones.
public struct ReplayMismatch: Error, Hashable, Sendable, CustomStringConvertible {
    public let difference: String
    public var description: String { "replay does not reproduce the tables: \(difference)" }
}
