public import AgoraCore
public import AgoraLedger
internal import AgoraMarket
internal import AgoraStore

/// One page of a sensor's readings in time order: each reading with the ledger index of the
/// `readings.commit` that sealed it and, when asked, its audit path within that batch; plus
/// the receipt of each commit the page touches. What `urn:agora:readings:1` sends.
public struct ReadingsPage: Sendable {
    public struct Item: Sendable {
        public let reading: Reading
        /// The canonical bytes the batch root hashes.
        public let record: [UInt8]
        /// Key of the reading within its sensor (time ‖ seq), for paging: `after` resumes here.
        public let cursor: String
        public let commit: UInt64
        /// Position and audit path in the commit's batch (with `proofs`).
        public let leafIndex: UInt64?
        public let batchSize: UInt64?
        public let path: [[UInt8]]?
    }

    public let items: [Item]
    /// Receipts of the commits the items belong to, by ledger index (with `proofs`).
    public let receipts: [UInt64: Receipt]
    /// Whether readings remain in the window after this page.
    public let more: Bool
}

extension ReadingsQuery {
    /// Readings of `sensor` with `from ≤ time < to` (ns) after `cursor`, at most `limit`.
    /// With `proofs`, each commit's batch is rebuilt once for the page, not once per reading.
    public func page(of sensor: SensorID, from: Int64, to: Int64, after cursor: String?, limit: Int, proofs: Bool) throws -> ReadingsPage {
        let tables = store.tables
        return try store.read { txn in
            guard let record = try MarketState(tables: tables, txn: txn).sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            let first = ReadingsKey.start(sensor: record.index, time: from)
            let resume = try cursor.map { try Self.key(after: $0, sensor: record.index) }
            let start = resume.map { $0.lexicographicallyPrecedes(first) ? first : $0 } ?? first
            var rows: [(key: [UInt8], commit: UInt64, bytes: [UInt8])] = []
            var more = false
            try txn.scan(tables.readings, from: start) { key, value in
                guard ReadingsKey.sensor(of: key) == record.index, let time = ReadingsKey.time(of: key), time < to else { return false }
                let keyBytes = Array(key)
                if keyBytes == resume { return true }   // `after` is exclusive
                guard rows.count < limit else { more = true; return false }
                guard let commit = StoreKey.readU64(value) else { throw StoreError.corrupted("a readings row without its commit index") }
                rows.append((keyBytes, commit, Array(value.dropFirst(8))))
                return true
            }
            var paths: [UInt64: (tree: MemoryMerkleTree, positions: [[UInt8]: UInt64])] = [:]
            var receipts: [UInt64: Receipt] = [:]
            if proofs {
                for commit in Set(rows.map(\.commit)) {
                    paths[commit] = try batch(commit, sensorIndex: record.index, in: txn)
                    receipts[commit] = try ledger.receipt(for: commit, in: txn)
                }
            }
            let items = try rows.map { row in
                let tree = paths[row.commit]
                let leaf = tree?.positions[row.key]
                if proofs, leaf == nil { throw StoreError.corrupted("a reading is missing from the batch of commit \(row.commit)") }
                return ReadingsPage.Item(reading: try Reading(canonical: row.bytes), record: row.bytes, cursor: Self.cursor(of: row.key),
                                         commit: row.commit, leafIndex: leaf, batchSize: tree?.tree.size,
                                         path: leaf.flatMap { tree?.tree.inclusion(index: $0) })
            }
            return ReadingsPage(items: items, receipts: receipts, more: more)
        }
    }

    /// The Merkle tree of the batch sealed by ledger entry `commit`, and each reading's position in it.
    private func batch(_ commit: UInt64, sensorIndex: UInt32, in txn: ReadTransaction) throws -> (tree: MemoryMerkleTree, positions: [[UInt8]: UInt64]) {
        guard case .readingsCommit(let entry) = try LedgerEntry(decoding: try ledger.entry(at: commit, in: txn)).body else {
            throw StoreError.corrupted("readings point at ledger entry \(commit), which is not a readings.commit")
        }
        let first = try Reading.parseTime(entry.first), last = try Reading.parseTime(entry.last)
        var leaves: [[UInt8]] = []
        var positions: [[UInt8]: UInt64] = [:]
        try txn.scan(store.tables.readings, from: ReadingsKey.start(sensor: sensorIndex, time: first)) { key, value in
            guard ReadingsKey.sensor(of: key) == sensorIndex, let t = ReadingsKey.time(of: key), t <= last else { return false }
            if StoreKey.readU64(value) == commit {
                positions[Array(key)] = UInt64(leaves.count)
                leaves.append(TreeHash.leaf(value.dropFirst(8)))
            }
            return true
        }
        guard leaves.count == entry.count else {
            throw StoreError.corrupted("the batch of commit \(commit) is incomplete in the readings table (pruned?)")
        }
        return (MemoryMerkleTree(leafHashes: leaves), positions)
    }

    /// A page cursor: the reading's time and sequence number, "<ns>-<seq>".
    static func cursor(of key: [UInt8]) -> String {
        let time = key[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let seq = key[12..<20].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return "\(Int64(bitPattern: time))-\(seq)"
    }

    static func key(after cursor: String, sensor: UInt32) throws(InvalidInput) -> [UInt8] {
        let parts = cursor.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let time = Int64(parts[0]), time >= 0, let seq = UInt64(parts[1]) else {
            throw .malformed("after", String(cursor.prefix(40)), reason: "use the <last/> of the previous page")
        }
        return ReadingsKey.key(sensor: sensor, time: time, seq: seq)
    }
}
