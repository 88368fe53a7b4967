public import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraStore

/// One sensor's readings exactly as a `readings.commit` sealed them, handed to whoever follows
/// ingestion live (the publish-subscribe service) once the batch is durable.
public struct CommittedBatch: Sendable {
    public let sensor: SensorID
    /// The ledger index of the batch's `readings.commit` entry.
    public let commit: UInt64
    /// The batch's readings in the order its Merkle root hashes them (time, then bytes),
    /// each with its salted record; no audit paths (see `withProofs`).
    public let items: [ReadingsPage.Item]

    /// The items with their positions and audit paths in the batch: the tree is rebuilt from
    /// the records in memory, so only a batch someone wants proofs of pays for it.
    public func withProofs() -> [ReadingsPage.Item] {
        let tree = MemoryMerkleTree(leafHashes: items.map { TreeHash.leaf($0.record) })
        return items.enumerated().map { position, item in
            ReadingsPage.Item(reading: item.reading, record: item.record, cursor: item.cursor, commit: item.commit,
                              leafIndex: UInt64(position), batchSize: tree.size, path: tree.inclusion(index: UInt64(position)))
        }
    }
}

extension ReadingsQuery {
    /// Which committed batches of a sensor to fetch (XEP-0060 item retrieval), by ledger index.
    public enum BatchSelection: Sendable {
        /// The newest n.
        case newest(Int)
        /// Those with a larger commit index, the smallest `max` of them.
        case after(UInt64, max: Int)
        /// These commits.
        case commits(Set<UInt64>)
    }

    /// Whole committed batches of `sensor`, found by their commit in `readings.commits` (so a
    /// batch of late readings is found by when it was committed, not by its readings' times),
    /// each loaded from its time span. Oldest commit first. Commits from before the index
    /// existed, or whose readings retention has pruned, are not found.
    ///
    /// - Parameters:
    ///   - spanned: which batches, by their first and last reading times (ns), are worth
    ///     loading (a buyer's windows): the others are not read at all.
    ///   - maxScan: readings read to load one batch at most (a batch of late readings spans
    ///     much of a sensor's history); a batch cut short comes back incomplete.
    public func batches(of sensor: SensorID, _ selection: BatchSelection, spanned: (Int64, Int64) -> Bool = { _, _ in true },
                        maxScan: Int = 100_000) throws -> [CommittedBatch] {
        let tables = store.tables
        return try store.read { txn in
            guard let record = try MarketState(tables: tables, txn: txn).sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            var prefixKey = StoreKey(capacity: 4)
            prefixKey.append(record.index)
            let prefix = prefixKey.bytes
            var found: [(commit: UInt64, first: Int64, last: Int64)] = []
            func add(_ key: some Collection<UInt8>, _ value: [UInt8]) {
                if let commit = StoreKey.readU64(Array(key), at: 4), let span = ReadingsKey.span(of: value) { found.append((commit, span.first, span.last)) }
            }
            switch selection {
            case .newest(let count):
                guard count > 0 else { return [] }
                // The sensor's last commit: the entry before the next sensor's first.
                let cursor = try Cursor(transaction: txn, database: tables.readingsCommits)
                var entry = record.index == .max ? try cursor.last()
                    : try cursor.seek(atLeast: ReadingsKey.commit(sensor: record.index + 1, commit: 0)) != nil ? try cursor.previous() : try cursor.last()
                while let (key, value) = entry, Array(key.prefix(4)) == prefix, found.count < count {
                    add(key, Array(value))
                    entry = try cursor.previous()
                }
                found.reverse()
            case .after(let after, let max):
                guard max > 0, after < .max else { return [] }
                try txn.scan(tables.readingsCommits, from: ReadingsKey.commit(sensor: record.index, commit: after + 1)) { key, value in
                    guard Array(key.prefix(4)) == prefix else { return false }
                    add(key, Array(value))
                    return found.count < max
                }
            case .commits(let wanted):
                for commit in wanted.sorted() {
                    if let value = try txn.get(tables.readingsCommits, ReadingsKey.commit(sensor: record.index, commit: commit)) {
                        add(ReadingsKey.commit(sensor: record.index, commit: commit), value)
                    }
                }
            }
            return try found.filter { spanned($0.first, $0.last) }.map { batch in
                var items: [ReadingsPage.Item] = []
                var scanned = 0
                try txn.scan(tables.readings, from: ReadingsKey.start(sensor: record.index, time: batch.first)) { key, value in
                    scanned += 1
                    guard scanned <= maxScan, ReadingsKey.sensor(of: key) == record.index, let time = ReadingsKey.time(of: key), time <= batch.last else { return false }
                    if StoreKey.readU64(value) == batch.commit {
                        let bytes = Array(value.dropFirst(8))
                        items.append(ReadingsPage.Item(reading: try Reading(canonical: bytes), record: bytes, cursor: Self.cursor(of: Array(key)),
                                                       commit: batch.commit, leafIndex: nil, batchSize: nil, path: nil))
                    }
                    return true
                }
                return CommittedBatch(sensor: sensor, commit: batch.commit, items: items)
            }
        }
    }
}
