public import AgoraCore
public import AgoraStore
internal import Synchronization

/// The verifiable log of every state change (DESIGN.md "Ledger").
///
/// Entries are appended inside the caller's write transaction, next to the table updates
/// they cause, so an entry and its effects commit together or not at all. After each
/// write batch that grew the tree, at most every `checkpointInterval`, the writer seals a
/// signed checkpoint in the same transaction (`installCheckpointHook`); a write that needs
/// its entry covered at once asks its batch to seal (`Store.write(sealing:)`).
public final class Ledger: Sendable {
    public let tables: Tables
    public let tree: StoredMerkleTree
    public let origin: String
    /// Nil when the ledger was opened without the key-encryption key (read-only use).
    public let signer: NoteSigner?
    public let checkpointInterval: Duration
    /// When and at which tree size this process last sealed. If the stored checkpoint is not
    /// at that size, the seal's batch was rolled back and the next batch seals again.
    private let lastSeal = Mutex<(at: ContinuousClock.Instant, size: UInt64)?>(nil)

    public static let originKey = StoreKey.text("origin")

    public init(tables: Tables, origin: String, signer: NoteSigner?, checkpointInterval: Duration = .seconds(1)) {
        self.tables = tables
        self.tree = StoredMerkleTree(tables: tables)
        self.origin = origin
        self.signer = signer
        self.checkpointInterval = checkpointInterval
    }

    /// The origin recorded by `agora init`, or nil for an empty store.
    public static func storedOrigin(in txn: ReadTransaction, tables: Tables) throws(StoreError) -> String? {
        try txn.get(tables.meta, originKey).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes the genesis entry and the first checkpoint. Refuses a store that has a ledger.
    public func initialize(genesis: LedgerEntry, in txn: WriteTransaction) throws -> UInt64 {
        guard try size(in: txn) == 0, try Self.storedOrigin(in: txn, tables: tables) == nil else {
            throw LedgerError.alreadyInitialized
        }
        try txn.put(tables.meta, Self.originKey, Array(origin.utf8))
        let index = try append(genesis, in: txn)
        try seal(in: txn)
        return index
    }

    // MARK: Appending

    /// Appends `entry` and returns its index.
    @discardableResult
    public func append(_ entry: LedgerEntry, in txn: WriteTransaction) throws -> UInt64 {
        try append(encoded: entry.encoded(), in: txn)
    }

    /// Appends already-encoded entry bytes (exactly what will be hashed).
    @discardableResult
    public func append(encoded bytes: [UInt8], in txn: WriteTransaction) throws(StoreError) -> UInt64 {
        let index = try size(in: txn)
        try txn.put(tables.ledgerEntries, StoreKey.u64(index), bytes, flags: .append)
        try tree.append(leafHash: TreeHash.leaf(bytes), at: index, in: txn)
        return index
    }

    // MARK: Reading

    public func size(in txn: ReadTransaction) throws(StoreError) -> UInt64 {
        UInt64(try txn.count(tables.ledgerEntries))
    }

    public func entry(at index: UInt64, in txn: ReadTransaction) throws -> [UInt8] {
        guard let bytes = try txn.get(tables.ledgerEntries, StoreKey.u64(index)) else {
            throw LedgerError.indexOutOfRange(index, size: try size(in: txn))
        }
        return bytes
    }

    /// The newest signed checkpoint note and its tree size.
    public func latestCheckpoint(in txn: ReadTransaction) throws(StoreError) -> (size: UInt64, note: String)? {
        guard let (key, value) = try txn.last(tables.ledgerCheckpoints), let size = StoreKey.readU64(key) else { return nil }
        return (size, String(decoding: value, as: UTF8.self))
    }

    /// Every stored checkpoint, oldest first.
    public func checkpoints(in txn: ReadTransaction) throws -> [(size: UInt64, note: String)] {
        var result: [(UInt64, String)] = []
        try txn.scan(tables.ledgerCheckpoints) { key, value in
            if let size = StoreKey.readU64(key) { result.append((size, String(decoding: value, as: UTF8.self))) }
            return true
        }
        return result
    }

    /// A receipt for entry `index`: against the best witnessed checkpoint that covers it
    /// (`witnessedCheckpoint`), or else the newest checkpoint (no cosignatures yet).
    public func receipt(for index: UInt64, in txn: ReadTransaction) throws -> Receipt {
        let total = try size(in: txn)
        guard index < total else { throw LedgerError.indexOutOfRange(index, size: total) }
        guard let checkpoint = try witnessedCheckpoint(covering: index, in: txn) ?? latestCheckpoint(in: txn), checkpoint.size > index else {
            throw LedgerError.noCheckpoint(covering: index)
        }
        let proof = try tree.inclusionProof(index: index, size: checkpoint.size, in: txn)
        return Receipt(index: index, entry: try entry(at: index, in: txn), treeSize: checkpoint.size,
                       inclusion: proof, checkpoint: checkpoint.note)
    }

    // MARK: Witnessed checkpoints

    /// How many cosigned checkpoints are kept: the newest covers every older entry, so a
    /// few suffice, and one note a second would otherwise grow the store without bound.
    public static let cosignedKept = 64

    /// Among the newest cosigned checkpoints (`tables.ledgerCosigned`) that cover `index`,
    /// the one with the most signatures (the newest of those); nil when none does.
    public func witnessedCheckpoint(covering index: UInt64, in txn: ReadTransaction) throws -> (size: UInt64, note: String)? {
        var best: (size: UInt64, note: String, signatures: Int)?
        var seen = 0
        try txn.scanReverse(tables.ledgerCosigned) { key, value in
            guard let size = StoreKey.readU64(Array(key)), size > index, seen < Self.cosignedKept else { return false }
            seen += 1
            let note = String(decoding: value, as: UTF8.self)
            let count = (try? SignedNote(parsing: note).signerCount) ?? 0
            if count > (best?.signatures ?? 0) { best = (size, note, count) }
            return true
        }
        return best.map { ($0.size, $0.note) }
    }

    /// Adds a witness's cosignature lines to this log's checkpoint of `size` (which must be
    /// stored, with `text` as its note text: what the caller verified the cosignatures
    /// over), keeps the newest `cosignedKept` cosigned checkpoints, and returns the note.
    public func addCosignatures(_ signatures: [SignedNote.Signature], toCheckpointOf size: UInt64, text: String, in txn: WriteTransaction) throws -> String {
        let base = try txn.get(tables.ledgerCosigned, StoreKey.u64(size)) ?? txn.get(tables.ledgerCheckpoints, StoreKey.u64(size))
        guard let base else { throw LedgerError.noCheckpoint(covering: size > 0 ? size - 1 : 0) }
        let stored = try SignedNote(parsing: String(decoding: base, as: UTF8.self))
        guard stored.text == text else { throw LedgerError.tampered("the stored checkpoint of size \(size) is not the one cosigned", index: nil) }
        let note = stored.adding(signatures).serialized
        try txn.put(tables.ledgerCosigned, StoreKey.u64(size), Array(note.utf8))
        var keys: [[UInt8]] = []
        try txn.scanReverse(tables.ledgerCosigned) { key, _ in keys.append(Array(key)); return true }
        for key in keys.dropFirst(Self.cosignedKept) { try txn.delete(tables.ledgerCosigned, key) }
        return note
    }

    // MARK: Checkpoints

    /// Signs and stores a checkpoint of the current tree, unless the newest one already
    /// covers it. Returns whether a checkpoint was written.
    @discardableResult
    public func seal(in txn: WriteTransaction) throws -> Bool {
        guard let signer else { throw LedgerError.badKey("the log key is not loaded; cannot sign checkpoints") }
        let size = try size(in: txn)
        if let latest = try latestCheckpoint(in: txn), latest.size >= size { return false }
        let checkpoint = Checkpoint(origin: origin, size: size, root: try tree.root(size: size, in: txn))
        let note = try checkpoint.signed(by: signer).serialized
        try txn.put(tables.ledgerCheckpoints, StoreKey.u64(size), Array(note.utf8), flags: .append)
        lastSeal.withLock { $0 = (.now, size) }
        return true
    }

    /// Seals a checkpoint if the tree grew and the last one is older than `checkpointInterval`
    /// (or the last one this process signed never committed).
    public func sealIfDue(in txn: WriteTransaction) throws {
        guard let last = lastSeal.withLock({ $0 }) else { try seal(in: txn); return }
        let stored = try latestCheckpoint(in: txn)?.size
        if stored != last.size || ContinuousClock.now - last.at >= checkpointInterval {
            try seal(in: txn)
        }
    }

    /// Makes the store's writer seal checkpoints after its batches (see `sealIfDue`), and
    /// at once in the batch of any request submitted with `sealing: true`.
    public func installCheckpointHook(on writer: GroupCommitWriter) {
        writer.addBatchHook { [self] txn in try self.sealIfDue(in: txn) }
        writer.installSealStep { [self] txn in try self.seal(in: txn) }
    }
}
