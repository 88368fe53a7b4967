import AgoraLedger
import Crypto
import Testing

struct MemoryMerkleTreeTests {
    /// The memoised tree must give the same roots and audit paths as the RFC 9162 recursion
    /// over plain leaf hashes, for every size up to 70 and every leaf.
    @Test func rootsAndPathsMatchTheRFC9162Recursion() {
        for n in 1...70 {
            let leaves = (0..<n).map { TreeHash.leaf(Array("leaf \($0)".utf8)) }
            let tree = MemoryMerkleTree(leafHashes: leaves)
            let root = MerkleProofs.root(ofLeafHashes: leaves[...])
            #expect(tree.root == root, "size \(n)")
            for i in 0..<n {
                let expected = MerkleProofs.inclusion(index: UInt64(i), size: UInt64(n)) { MerkleProofs.root(ofLeafHashes: leaves[Int($0)..<Int($1)]) }
                let path = tree.inclusion(index: UInt64(i))
                #expect(path == expected, "size \(n) leaf \(i)")
                #expect(MerkleProofs.verifyInclusion(leafHash: leaves[i], index: UInt64(i), size: UInt64(n), proof: path, root: root))
            }
        }
    }
}
