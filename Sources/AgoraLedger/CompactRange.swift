/// The right edge of a Merkle tree being built leaf by leaf: one hash per completed
/// subtree, at most log₂ n of them. Lets `ledger verify` recompute every interior node
/// and the root at any size in one pass, with O(log n) memory.
public struct CompactRange: Sendable {
    /// (level, hash) of each completed subtree, left to right, levels strictly decreasing.
    private(set) var stack: [(level: UInt8, hash: [UInt8])] = []
    public private(set) var size: UInt64 = 0

    public init() {}

    /// Adds a leaf hash; calls `completed` for every interior node the leaf completes,
    /// with its level and index, so the caller can compare it to the stored node.
    public mutating func append<E: Error>(leafHash: [UInt8], completed: (_ level: UInt8, _ index: UInt64, _ hash: [UInt8]) throws(E) -> Void) throws(E) {
        stack.append((0, leafHash))
        var index = size
        size += 1
        while stack.count >= 2, stack[stack.count - 1].level == stack[stack.count - 2].level {
            let right = stack.removeLast()
            let left = stack.removeLast()
            let level = right.level + 1
            index >>= 1
            let hash = TreeHash.node(left.hash, right.hash)
            try completed(level, index, hash)
            stack.append((level, hash))
        }
    }

    /// `MTH(D[size])`.
    public var root: [UInt8] {
        guard var hash = stack.last?.hash else { return TreeHash.empty }
        for item in stack.dropLast().reversed() {
            hash = TreeHash.node(item.hash, hash)
        }
        return hash
    }
}
