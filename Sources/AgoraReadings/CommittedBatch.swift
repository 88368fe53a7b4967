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
    /// Which committed batches of a sensor to fetch (XEP-0060 item retrieval).
    public enum BatchSelection: Sendable {
        /// The newest n.
        case newest(Int)
        /// Those with a larger commit index, the smallest `max` of them.
        case after(UInt64, max: Int)
        /// These commits.
        case commits(Set<UInt64>)
    }

    /// Committed batches of `sensor`, found by walking its readings back from the newest — at
    /// most `walk` readings, so a request costs a bounded read whatever it asks for. Batches
    /// are assumed to follow each other in time (live ingestion); a backfilled batch older
    /// than what was asked for is not looked for past the walk. Oldest commit first.
    public func batches(of sensor: SensorID, _ selection: BatchSelection, walk: Int = 100_000) throws -> [CommittedBatch] {
        let tables = store.tables
        return try store.read { txn in
            guard let record = try MarketState(tables: tables, txn: txn).sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            let cursor = try Cursor(transaction: txn, database: tables.readings)
            var entry = try cursor.seek(atLeast: ReadingsKey.key(sensor: record.index &+ 1, time: 0, seq: 0)) != nil ? try cursor.previous() : try cursor.last()
            var rows: [UInt64: [(key: [UInt8], bytes: [UInt8])]] = [:]
            var seen = 0
            walking: while let (key, value) = entry, ReadingsKey.sensor(of: key) == record.index, seen < walk {
                seen += 1
                guard let commit = StoreKey.readU64(value) else { throw StoreError.corrupted("a readings row without its commit index") }
                switch selection {
                case .newest(let count): if rows[commit] == nil, rows.count >= count { break walking }
                case .after(let after, _): if commit <= after { break walking }
                case .commits(let wanted): if !wanted.contains(commit) { entry = try cursor.previous(); continue walking }
                }
                rows[commit, default: []].append((Array(key), Array(value.dropFirst(8))))
                entry = try cursor.previous()
            }
            var batches = try rows.sorted { $0.key < $1.key }.map { commit, found in
                CommittedBatch(sensor: sensor, commit: commit, items: try found.reversed().map { row in
                    ReadingsPage.Item(reading: try Reading(canonical: row.bytes), record: row.bytes, cursor: Self.cursor(of: row.key),
                                      commit: commit, leafIndex: nil, batchSize: nil, path: nil)
                })
            }
            if case .after(_, let max) = selection { batches = Array(batches.prefix(max)) }
            return batches
        }
    }
}
