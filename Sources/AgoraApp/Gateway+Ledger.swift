public import AgoraLedger
public import AgoraMarket
internal import AgoraStore

/// The ledger's use cases for the CLI: audits, entries, checkpoints, receipts and proofs.
extension Gateway {
    /// Recomputes every leaf and node and checks every checkpoint (`LedgerAudit.verify`).
    public func verifyLedger(trusted: NoteVerifier?, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> LedgerAudit.Report {
        try LedgerAudit.verify(store: store, trusted: trusted, progress: progress)
    }

    /// Rebuilds the tables from the entries in a scratch store and compares (`Replay.verify`).
    public func replayLedger(scratchDirectory: String, progress: ((UInt64, UInt64) -> Void)? = nil) async throws -> Replay.Report {
        try await Replay.verify(store: store, scratchDirectory: scratchDirectory, progress: progress)
    }

    /// At most `limit` entries from index `from` on, as stored (exactly the hashed bytes).
    public func entries(from: UInt64, limit: UInt64) throws -> [(index: UInt64, bytes: [UInt8])] {
        try store.read { txn in
            let size = try ledger.size(in: txn)
            var result: [(index: UInt64, bytes: [UInt8])] = []
            var index = from
            while index < size, UInt64(result.count) < limit {
                result.append((index, try ledger.entry(at: index, in: txn)))
                index += 1
            }
            return result
        }
    }

    /// The newest signed checkpoint note, after sealing one over every entry written.
    public func latestCheckpoint() async throws -> String? {
        try await ledger.sealCheckpoint(through: store)
        return try store.read { try ledger.latestCheckpoint(in: $0)?.note }
    }

    /// The receipt of entry `index` against a checkpoint sealed over every entry written.
    public func receipt(for index: UInt64) async throws -> Receipt {
        try await ledger.sealCheckpoint(through: store)
        return try store.read { try ledger.receipt(for: index, in: $0) }
    }

    /// The RFC 9162 consistency proof between tree sizes `old` ≤ `new`, with both roots.
    public func consistency(old: UInt64, new: UInt64) throws -> (oldRoot: [UInt8], newRoot: [UInt8], proof: [[UInt8]]) {
        try store.read { txn in
            let size = try ledger.size(in: txn)
            guard new <= size else { throw LedgerError.indexOutOfRange(new, size: size) }
            let tree = ledger.tree
            let proof = try tree.consistencyProof(oldSize: old, newSize: new, in: txn)
            return (try tree.root(size: old, in: txn), try tree.root(size: new, in: txn), proof)
        }
    }
}
