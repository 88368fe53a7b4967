/// An RFC 9162 tree held in memory with every level kept, for proving many leaves of one
/// small tree (a `readings.commit` batch): built once in O(n), then each audit path costs
/// O(log n) look-ups instead of rehashing subtrees per proof.
///
/// Level k holds the hashes of the aligned ranges `[i·2^k, min((i+1)·2^k, n))`; an odd last
/// node moves up unchanged, which gives RFC 9162's split-at-the-largest-power-of-two tree.
/// Those are exactly the subtrees `MerkleProofs` asks for.
public struct MemoryMerkleTree: Sendable {
    private let levels: [[[UInt8]]]
    public var size: UInt64 { UInt64(levels.first?.count ?? 0) }

    public init(leafHashes: [[UInt8]]) {
        var levels = [leafHashes]
        while let top = levels.last, top.count > 1 {
            levels.append(stride(from: 0, to: top.count, by: 2).map { i in
                i + 1 < top.count ? TreeHash.node(top[i], top[i + 1]) : top[i]
            })
        }
        self.levels = levels
    }

    public var root: [UInt8] { levels.last?.first ?? TreeHash.empty }

    /// The audit path of leaf `index` (< size).
    public func inclusion(index: UInt64) -> [[UInt8]] {
        MerkleProofs.inclusion(index: index, size: size) { start, end in
            let k = (end - start - 1).bitWidth - (end - start - 1).leadingZeroBitCount   // smallest k with 2^k ≥ end − start
            return levels[k][Int(start >> k)]
        }
    }
}
