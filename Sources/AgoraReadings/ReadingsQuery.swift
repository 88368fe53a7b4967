public import AgoraCore
public import AgoraLedger
internal import AgoraMarket
public import AgoraStore
internal import FoundationEssentials

/// Reads readings back: windows for export, and proofs that a reading is exactly what the
/// gateway recorded and committed to the ledger.
public struct ReadingsQuery: Sendable {
    let store: Store
    let ledger: Ledger

    public init(store: Store, ledger: Ledger) {
        self.store = store
        self.ledger = ledger
    }

    /// Readings of `sensor` with `from ≤ time < to`, in time order, at most `limit`.
    public func readings(of sensor: SensorID, from: Int64 = 0, to: Int64 = .max, limit: Int = .max) throws -> [Reading] {
        try records(of: sensor, from: from, to: to, limit: limit).map { bytes throws(EntryCodingError) in try Reading(canonical: bytes) }
    }

    /// The stored canonical records of those readings, exactly as their batch roots hash
    /// them — with their salts, so only for readers allowed the readings (`agora readings
    /// export` on the box).
    public func records(of sensor: SensorID, from: Int64 = 0, to: Int64 = .max, limit: Int = .max) throws -> [[UInt8]] {
        let tables = store.tables
        return try store.read { txn in
            guard let record = try MarketState(tables: tables, txn: txn).sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            var result: [[UInt8]] = []
            try txn.scan(tables.readings, from: ReadingsKey.start(sensor: record.index, time: from)) { key, value in
                guard ReadingsKey.sensor(of: key) == record.index, let time = ReadingsKey.time(of: key), time < to, result.count < limit else { return false }
                result.append(Array(value.dropFirst(8)))
                return true
            }
            return result
        }
    }

    /// A reading, its Merkle path within its `readings.commit` batch, and the ledger
    /// receipt of that commit. Checkable offline with the log key: the leaf hash of
    /// `record` and `batchProof` lead to the commit's `root`, and the receipt proves the
    /// commit entry is in the log.
    public struct Proof: Sendable, Codable {
        /// The reading's canonical bytes, base64.
        public let record: String
        public let leafIndex: UInt64
        public let batchSize: UInt64
        public let batchProof: [String]
        public let receipt: Receipt

        public init(record: String, leafIndex: UInt64, batchSize: UInt64, batchProof: [String], receipt: Receipt) {
            self.record = record; self.leafIndex = leafIndex; self.batchSize = batchSize
            self.batchProof = batchProof; self.receipt = receipt
        }

        /// Verifies everything with `verifier`; returns the reading.
        public func verify(with verifier: NoteVerifier) throws -> Reading {
            let entryBytes = try receipt.verify(with: verifier)
            guard case .readingsCommit(let commit) = try LedgerEntry(decoding: entryBytes).body else {
                throw LedgerError.proofFailed("the receipt is not of a readings.commit entry")
            }
            guard let bytes = Data(base64Encoded: record), let root = Data(base64Encoded: commit.root),
                  UInt64(commit.count) == batchSize else { throw LedgerError.malformed("unreadable reading proof") }
            let path = try batchProof.map { item throws -> [UInt8] in
                guard let hash = Data(base64Encoded: item), hash.count == TreeHash.size else { throw LedgerError.malformed("bad hash in batch proof") }
                return Array(hash)
            }
            guard MerkleProofs.verifyInclusion(leafHash: TreeHash.leaf(bytes), index: leafIndex, size: batchSize, proof: path, root: Array(root)) else {
                throw LedgerError.proofFailed("the reading is not in the committed batch")
            }
            return try Reading(canonical: Array(bytes))
        }
    }

    /// The proof for the first reading of `sensor` at exactly `time` (ns).
    public func prove(sensor: SensorID, time: Int64) throws -> Proof {
        let tables = store.tables
        return try store.read { txn in
            guard let record = try MarketState(tables: tables, txn: txn).sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            var found: (commit: UInt64, bytes: [UInt8])?
            try txn.scan(tables.readings, from: ReadingsKey.start(sensor: record.index, time: time)) { key, value in
                if ReadingsKey.sensor(of: key) == record.index, ReadingsKey.time(of: key) == time, let commit = StoreKey.readU64(value) {
                    found = (commit, Array(value.dropFirst(8)))
                }
                return false
            }
            guard let found else {
                throw LedgerError.malformed("no reading of \(sensor) at \(Reading.formatTime(time))")
            }
            guard case .readingsCommit(let commit) = try LedgerEntry(decoding: try ledger.entry(at: found.commit, in: txn)).body else {
                throw StoreError.corrupted("reading points at ledger entry \(found.commit), which is not a readings.commit")
            }
            // The batch: this sensor's readings in [first, last] sealed by the same commit, in key order.
            var leaves: [[UInt8]] = []
            var position: UInt64?
            let first = try Reading.parseTime(commit.first), last = try Reading.parseTime(commit.last)
            try txn.scan(tables.readings, from: ReadingsKey.start(sensor: record.index, time: first)) { key, value in
                guard ReadingsKey.sensor(of: key) == record.index, let t = ReadingsKey.time(of: key), t <= last else { return false }
                if StoreKey.readU64(value) == found.commit {
                    let bytes = Array(value.dropFirst(8))
                    if position == nil, t == time, bytes == found.bytes { position = UInt64(leaves.count) }
                    leaves.append(TreeHash.leaf(bytes))
                }
                return true
            }
            guard let position, leaves.count == commit.count else {
                throw StoreError.corrupted("the batch of commit \(found.commit) is incomplete in the readings table (pruned?)")
            }
            let path = MerkleProofs.inclusion(index: position, size: UInt64(leaves.count)) { MerkleProofs.root(ofLeafHashes: leaves[Int($0)..<Int($1)]) }
            return Proof(record: Data(found.bytes).base64EncodedString(), leafIndex: position, batchSize: UInt64(leaves.count),
                         batchProof: path.map { Data($0).base64EncodedString() }, receipt: try ledger.receipt(for: found.commit, in: txn))
        }
    }
}

extension ReadingsQuery {
    /// The newest readings of `sensor`: all of those at its newest time, or with `names`, the
    /// newest of each name — looking back over at most `lookback` readings, so a field the
    /// sensor stopped sending costs a bounded walk.
    public func latest(of sensor: SensorID, names: Set<String>? = nil, lookback: Int = 1000) throws -> [Reading] {
        let tables = store.tables
        return try store.read { txn in
            guard let record = try MarketState(tables: tables, txn: txn).sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            let cursor = try Cursor(transaction: txn, database: tables.readings)
            // The first key past this sensor, then step back into its readings.
            var entry = try cursor.seek(atLeast: ReadingsKey.key(sensor: record.index &+ 1, time: 0, seq: 0)) != nil ? try cursor.previous() : try cursor.last()
            var found: [String: Reading] = [:]
            var newest: Int64?
            var seen = 0
            while let (key, value) = entry, ReadingsKey.sensor(of: key) == record.index, seen < lookback {
                seen += 1
                let reading = try Reading(canonical: Array(value.dropFirst(8)))
                if let names {
                    if names.contains(reading.name), found[reading.name] == nil { found[reading.name] = reading }
                    if found.count == names.count { break }
                } else {
                    if let newest, reading.time != newest { break }
                    newest = reading.time
                    if found[reading.name] == nil { found[reading.name] = reading }
                }
                entry = try cursor.previous()
            }
            return found.values.sorted { ($0.time, $0.name) < ($1.time, $1.name) }
        }
    }
}
