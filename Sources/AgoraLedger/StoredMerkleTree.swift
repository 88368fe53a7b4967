public import AgoraStore

/// The RFC 9162 tree of the ledger, kept as its completed subtrees in `ledger.nodes`.
///
/// Key: level (u8) ‖ index (u64 BE). Node (l, i) is `MTH(D[i·2^l ..< (i+1)·2^l])`; level 0
/// holds the leaf hashes. Appending a leaf stores it and every subtree it completes
/// (amortised two writes, at most log₂ n). Any subtree hash the proofs need is then
/// either one stored node or the hash of a few of them, never a rehash of entries.
public struct StoredMerkleTree: Sendable {
    let nodes: Database

    public init(tables: Tables) { nodes = tables.ledgerNodes }

    static func key(level: UInt8, index: UInt64) -> [UInt8] {
        var key = StoreKey(capacity: 9)
        key.append(level)
        key.append(index)
        return key.bytes
    }

    /// Adds the leaf hash of entry number `index` (the current size) and the subtrees it completes.
    public func append(leafHash: [UInt8], at index: UInt64, in txn: WriteTransaction) throws(StoreError) {
        try txn.put(nodes, Self.key(level: 0, index: index), leafHash)
        var hash = leafHash
        var level: UInt8 = 0
        var position = index
        while position & 1 == 1 {
            guard let left = try txn.get(nodes, Self.key(level: level, index: position - 1)), left.count == TreeHash.size else {
                throw .corrupted("Merkle node (\(level), \(position - 1)) is missing")
            }
            hash = TreeHash.node(left, hash)
            level += 1
            position >>= 1
            try txn.put(nodes, Self.key(level: level, index: position), hash)
        }
    }

    public func node(level: UInt8, index: UInt64, in txn: ReadTransaction) throws(StoreError) -> [UInt8] {
        guard let hash = try txn.get(nodes, Self.key(level: level, index: index)), hash.count == TreeHash.size else {
            throw .corrupted("Merkle node (\(level), \(index)) is missing")
        }
        return hash
    }

    /// `MTH(D[start..<end])` for the ranges the RFC 9162 recursions ask for (start aligned
    /// to the largest power of two below the range's size, or the range a perfect subtree).
    public func subtreeHash(start: UInt64, end: UInt64, in txn: ReadTransaction) throws(StoreError) -> [UInt8] {
        let count = end - start
        if count == 0 { return TreeHash.empty }
        if count & (count - 1) == 0, start % count == 0 {
            return try node(level: UInt8(count.trailingZeroBitCount), index: start / count, in: txn)
        }
        let k = MerkleProofs.split(count)
        let left = try subtreeHash(start: start, end: start + k, in: txn)
        let right = try subtreeHash(start: start + k, end: end, in: txn)
        return TreeHash.node(left, right)
    }

    public func root(size: UInt64, in txn: ReadTransaction) throws(StoreError) -> [UInt8] {
        try subtreeHash(start: 0, end: size, in: txn)
    }

    public func inclusionProof(index: UInt64, size: UInt64, in txn: ReadTransaction) throws(StoreError) -> [[UInt8]] {
        do {
            return try MerkleProofs.inclusion(index: index, size: size) { try subtreeHash(start: $0, end: $1, in: txn) }
        } catch let error as StoreError { throw error } catch { throw .inner(error) }
    }

    public func consistencyProof(oldSize: UInt64, newSize: UInt64, in txn: ReadTransaction) throws(StoreError) -> [[UInt8]] {
        do {
            return try MerkleProofs.consistency(oldSize: oldSize, newSize: newSize) { try subtreeHash(start: $0, end: $1, in: txn) }
        } catch let error as StoreError { throw error } catch { throw .inner(error) }
    }

    /// How many nodes a tree of `size` leaves stores: Σ ⌊size / 2^l⌋.
    public static func storedNodeCount(size: UInt64) -> UInt64 {
        var total: UInt64 = 0
        var n = size
        while n > 0 { total += n; n >>= 1 }
        return total
    }
}
