/// RFC 9162 §2.1.3.1 and §2.1.4.1: inclusion and consistency proofs, generated from any
/// source of subtree hashes `MTH(D[start..<end])`.
///
/// The recursion only ever asks for subtrees that start at a multiple of their own
/// power-of-two size or that end at the tree's edge, so a store that keeps every
/// completed subtree answers each request with O(log n) look-ups and no rehashing.
public enum MerkleProofs {
    public typealias SubtreeHash = (_ start: UInt64, _ end: UInt64) throws -> [UInt8]

    /// The largest power of two strictly smaller than `n` (n ≥ 2).
    @inlinable
    public static func split(_ n: UInt64) -> UInt64 {
        precondition(n >= 2)
        return 1 << (63 - (n - 1).leadingZeroBitCount)
    }

    /// `PATH(m, D[n])`: the audit path for leaf `index` in the tree of the first `size` leaves.
    public static func inclusion(index: UInt64, size: UInt64, subtree: SubtreeHash) rethrows -> [[UInt8]] {
        precondition(index < size)
        var proof: [[UInt8]] = []
        try path(index, start: 0, count: size, subtree: subtree, into: &proof)
        return proof
    }

    private static func path(_ m: UInt64, start: UInt64, count n: UInt64, subtree: SubtreeHash, into proof: inout [[UInt8]]) rethrows {
        guard n > 1 else { return }
        let k = split(n)
        if m < k {
            try path(m, start: start, count: k, subtree: subtree, into: &proof)
            proof.append(try subtree(start + k, start + n))
        } else {
            try path(m - k, start: start + k, count: n - k, subtree: subtree, into: &proof)
            proof.append(try subtree(start, start + k))
        }
    }

    /// `PROOF(m, D[n])`: shows that the tree of `oldSize` leaves is a prefix of the tree of `newSize`.
    /// Empty when `oldSize` is 0 or equals `newSize`.
    public static func consistency(oldSize: UInt64, newSize: UInt64, subtree: SubtreeHash) rethrows -> [[UInt8]] {
        precondition(oldSize <= newSize)
        guard oldSize > 0, oldSize < newSize else { return [] }
        var proof: [[UInt8]] = []
        try subproof(oldSize, start: 0, count: newSize, complete: true, subtree: subtree, into: &proof)
        return proof
    }

    private static func subproof(_ m: UInt64, start: UInt64, count n: UInt64, complete b: Bool,
                                 subtree: SubtreeHash, into proof: inout [[UInt8]]) rethrows {
        if m == n {
            if !b { proof.append(try subtree(start, start + n)) }
            return
        }
        let k = split(n)
        if m <= k {
            try subproof(m, start: start, count: k, complete: b, subtree: subtree, into: &proof)
            proof.append(try subtree(start + k, start + n))
        } else {
            try subproof(m - k, start: start + k, count: n - k, complete: false, subtree: subtree, into: &proof)
            proof.append(try subtree(start, start + k))
        }
    }

    /// RFC 9162 §2.1.3.2: whether `proof` shows `leafHash` at `index` in the tree of `size` with `root`.
    public static func verifyInclusion(leafHash: [UInt8], index: UInt64, size: UInt64, proof: [[UInt8]], root: [UInt8]) -> Bool {
        guard index < size else { return false }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard p.count == TreeHash.size, sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = TreeHash.node(p, r)
                if fn & 1 == 0 {
                    repeat { fn >>= 1; sn >>= 1 } while fn & 1 == 0 && fn != 0
                }
            } else {
                r = TreeHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: whether `proof` shows the tree (`oldSize`, `oldRoot`) is a prefix of (`newSize`, `newRoot`).
    public static func verifyConsistency(oldSize: UInt64, oldRoot: [UInt8], newSize: UInt64, newRoot: [UInt8], proof: [[UInt8]]) -> Bool {
        guard oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty }
        guard !proof.isEmpty, proof.allSatisfy({ $0.count == TreeHash.size }) else { return false }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = TreeHash.node(c, fr)
                sr = TreeHash.node(c, sr)
                if fn & 1 == 0 {
                    repeat { fn >>= 1; sn >>= 1 } while fn & 1 == 0 && fn != 0
                }
            } else {
                sr = TreeHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }

    /// `MTH(D[n])` computed directly from leaf hashes — the reference the store-backed tree is tested against.
    public static func root(ofLeafHashes leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        switch leaves.count {
        case 0: return TreeHash.empty
        case 1: return leaves.first!
        default:
            let k = Int(split(UInt64(leaves.count)))
            let mid = leaves.startIndex + k
            return TreeHash.node(root(ofLeafHashes: leaves[leaves.startIndex..<mid]), root(ofLeafHashes: leaves[mid...]))
        }
    }
}
