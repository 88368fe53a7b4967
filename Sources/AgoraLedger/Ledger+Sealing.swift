public import AgoraStore

/// Checkpoints on demand: the one place a caller outside the writer's batches seals.
extension Ledger {
    /// Seals a checkpoint of every entry committed so far, in a write of its own, and
    /// returns once it is durable (whether a checkpoint was written: none when the newest
    /// already covers the tree). Needs the log key.
    @discardableResult
    public func sealCheckpoint(through store: Store) async throws -> Bool {
        try await store.write { [self] txn in try self.seal(in: txn) }
    }

    /// A receipt for a committed entry against the newest checkpoint, sealing one first if
    /// none covers the entry yet. A write submitted with `sealing: true` is covered already,
    /// so this reads only; otherwise (or if that seal step failed) it costs one more commit.
    public func sealedReceipt(for index: UInt64, through store: Store) async throws -> Receipt {
        let covered = try store.read { try (latestCheckpoint(in: $0)?.size ?? 0) > index }
        if !covered { try await sealCheckpoint(through: store) }
        return try store.read { try receipt(for: index, in: $0) }
    }
}
