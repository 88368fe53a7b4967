internal import AgoraCore
public import AgoraStore

/// `agora ledger verify`: recomputes every leaf and interior node from the stored entry
/// bytes, compares them with the stored nodes, checks every checkpoint's signature and
/// root, and the consistency proof between consecutive checkpoints.
///
/// Reads in chunks, one short read transaction each, so a long audit never pins old
/// pages of a store that is being written.
public enum LedgerAudit {
    public struct Report: Sendable {
        public var entries: UInt64 = 0
        public var entryBytes: UInt64 = 0
        public var checkpoints = 0
        public var verifier: NoteVerifier?
    }

    /// Entries per read transaction.
    static let chunk: UInt64 = 65_536

    /// Verifies the whole ledger. `trusted`, when given, must be the key named in genesis.
    /// `progress` is called after each chunk with (entries checked, total).
    public static func verify(store: Store, trusted: NoteVerifier? = nil,
                              progress: ((UInt64, UInt64) -> Void)? = nil) throws -> Report {
        let tables = store.tables
        let tree = StoredMerkleTree(tables: tables)
        let (total, checkpoints, storedNodes, genesisBytes) = try store.read { txn in
            (UInt64(try txn.count(tables.ledgerEntries)),
             try Ledger(tables: tables, origin: "", signer: nil).checkpoints(in: txn),
             UInt64(try txn.count(tables.ledgerNodes)),
             try txn.get(tables.ledgerEntries, StoreKey.u64(0)))
        }
        guard total > 0, let genesisBytes else { throw LedgerError.notInitialized }
        // Entry 0 names the log key, so it is checked against its stored leaf before it is believed.
        guard try store.read({ txn in
            var nodes = NodeReader(transaction: txn, database: tables.ledgerNodes)
            return try nodes.matches(level: 0, index: 0, Hash32(TreeHash.leaf(genesisBytes)))
        }) else {
            throw LedgerError.tampered("entry 0 does not match its stored leaf hash: the entry or the tree was altered", index: 0)
        }
        let verifier: NoteVerifier
        do {
            guard case .genesis(let genesis) = try LedgerEntry(decoding: genesisBytes).body else {
                throw LedgerError.tampered("entry 0 is not a genesis entry", index: 0)
            }
            verifier = try NoteVerifier(parsing: genesis.logKey)
        } catch let error as LedgerError where error.isTampering {
            throw error
        } catch {
            throw LedgerError.tampered("entry 0 (genesis) is unreadable: \(error)", index: 0)
        }
        if let trusted, trusted != verifier {
            throw LedgerError.badSignature("the genesis entry names log key \(verifier), not the trusted \(trusted)")
        }
        if let last = checkpoints.last, last.size > total {
            throw LedgerError.tampered("a checkpoint covers \(last.size) entries but the ledger holds \(total)", index: nil)
        }

        var report = Report(verifier: verifier)
        var range = CompactRange()
        var pending = checkpoints[...]
        var previous: Checkpoint?
        var position: UInt64 = 0
        while position < total {
            let end = min(total, position + chunk)
            try store.read { txn in
                let entries = try Cursor(transaction: txn, database: tables.ledgerEntries)
                var nodes = NodeReader(transaction: txn, database: tables.ledgerNodes)
                var row = try entries.seek(atLeast: StoreKey.u64(position))
                while let (key, value) = row, range.size < end {
                    let index = range.size
                    guard key.count == 8, StoreKey.readU64(key) == index else {
                        throw LedgerError.tampered("ledger entry keys are not contiguous at \(index)", index: index)
                    }
                    let leaf = Hash32.leaf(value)
                    guard try nodes.matches(level: 0, index: index, leaf) else {
                        throw LedgerError.tampered("entry \(index) does not match its stored leaf hash: the entry or the tree was altered", index: index)
                    }
                    try range.append(leaf: leaf) { level, nodeIndex, hash in
                        guard try nodes.matches(level: level, index: nodeIndex, hash) else {
                            throw LedgerError.tampered("stored Merkle node (\(level), \(nodeIndex)) does not match the entries below it", index: nodeIndex << level)
                        }
                    }
                    report.entryBytes += UInt64(value.count)
                    while let next = pending.first, next.size == range.size {
                        pending.removeFirst()
                        previous = try checkCheckpoint(next.note, size: next.size, root: range.root,
                                                       previous: previous, verifier: verifier, tree: tree, txn: txn)
                        report.checkpoints += 1
                    }
                    row = try entries.next()
                }
            }
            guard range.size == end else {
                throw LedgerError.tampered("ledger entry \(range.size) is missing", index: range.size)
            }
            position = end
            progress?(position, total)
        }
        let expectedNodes = StoredMerkleTree.storedNodeCount(size: total)
        guard storedNodes == expectedNodes else {
            throw LedgerError.tampered("the tree stores \(storedNodes) nodes, a log of \(total) entries has \(expectedNodes)", index: nil)
        }
        if let stray = pending.first {
            throw LedgerError.tampered("checkpoint at size \(stray.size) was not reached", index: nil)
        }
        report.entries = total
        return report
    }

    private static func checkCheckpoint(_ note: String, size: UInt64, root: [UInt8], previous: Checkpoint?,
                                        verifier: NoteVerifier, tree: StoredMerkleTree, txn: ReadTransaction) throws -> Checkpoint {
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint.open(note, verifier: verifier) } catch {
            throw LedgerError.badSignature("checkpoint at size \(size): \(error)")
        }
        guard checkpoint.size == size else {
            throw LedgerError.tampered("checkpoint stored under size \(size) claims size \(checkpoint.size)", index: nil)
        }
        guard checkpoint.root == root else {
            throw LedgerError.tampered("checkpoint at size \(size) does not match the entries: an entry before \(size) was rewritten", index: nil)
        }
        if let previous {
            let proof = try tree.consistencyProof(oldSize: previous.size, newSize: size, in: txn)
            guard MerkleProofs.verifyConsistency(oldSize: previous.size, oldRoot: previous.root, newSize: size, newRoot: root, proof: proof) else {
                throw LedgerError.proofFailed("checkpoints at sizes \(previous.size) and \(size) are not consistent")
            }
        }
        return checkpoint
    }
}

/// Reads stored Merkle nodes level by level in index order, one cursor per level, so the
/// audit walks each level's keys sequentially instead of searching the tree per node.
private struct NodeReader {
    private let transaction: ReadTransaction
    private let database: Database
    private var cursors: [Cursor?] = Array(repeating: nil, count: 65)
    private var nextIndex: [UInt64] = Array(repeating: 0, count: 65)

    init(transaction: ReadTransaction, database: Database) {
        self.transaction = transaction
        self.database = database
    }

    /// Whether node (level, index) is stored and equals `hash`. Indices of one level must
    /// be asked for in increasing order (a jump re-seeks).
    mutating func matches(level: UInt8, index: UInt64, _ hash: Hash32) throws -> Bool {
        let slot = Int(level)
        let row: Cursor.Entry?
        if let cursor = cursors[slot], nextIndex[slot] == index {
            row = try cursor.next()
        } else {
            let cursor = try Cursor(transaction: transaction, database: database)
            cursors[slot] = cursor
            row = try cursor.seek(atLeast: StoredMerkleTree.key(level: level, index: index))
        }
        nextIndex[slot] = index + 1
        guard let (key, value) = row, key.count == 9, key[0] == level, StoreKey.readU64(key, at: 1) == index else { return false }
        return hash.matches(value)
    }
}
