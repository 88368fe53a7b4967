/// The right edge of a Merkle tree being built leaf by leaf: one hash per completed
/// subtree, at most log₂ n of them. Lets `ledger verify` recompute every interior node
/// and the root at any size in one pass, with O(log n) memory.
public struct CompactRange: Sendable {
    /// (level, hash) of each completed subtree, left to right, levels strictly decreasing.
    private(set) var stack: [(level: UInt8, hash: Hash32)] = []
    public private(set) var size: UInt64 = 0

    public init() { stack.reserveCapacity(64) }

    /// Adds a leaf hash; calls `completed` for every interior node the leaf completes,
    /// with its level and index, so the caller can compare it to the stored node.
    public mutating func append<E: Error>(leafHash: [UInt8], completed: (_ level: UInt8, _ index: UInt64, _ hash: [UInt8]) throws(E) -> Void) throws(E) {
        try append(leaf: Hash32(leafHash)) { (level, index, hash) throws(E) in try completed(level, index, hash.bytes) }
    }

    mutating func append<E: Error>(leaf: Hash32, completed: (_ level: UInt8, _ index: UInt64, _ hash: Hash32) throws(E) -> Void) throws(E) {
        stack.append((0, leaf))
        var index = size
        size += 1
        while stack.count >= 2, stack[stack.count - 1].level == stack[stack.count - 2].level {
            let right = stack.removeLast()
            let left = stack.removeLast()
            let level = right.level + 1
            index >>= 1
            let hash = Hash32.node(left.hash, right.hash)
            try completed(level, index, hash)
            stack.append((level, hash))
        }
    }

    /// `MTH(D[size])`.
    public var root: [UInt8] { rootHash.map(\.bytes) ?? TreeHash.empty }

    var rootHash: Hash32? {
        guard var hash = stack.last?.hash else { return nil }
        for item in stack.dropLast().reversed() {
            hash = Hash32.node(item.hash, hash)
        }
        return hash
    }
}
