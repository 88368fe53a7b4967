import AgoraLedger
import AgoraStore
import AgoraTestSupport
import Crypto
import Testing

/// The RFC 6962 reference leaves (certificate-transparency's merkle_tree_test vectors).
let referenceLeaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex)
let referenceRoots: [String] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// A store whose tree holds `count` leaves (leaf i = SHA-256 leaf hash of the 8 bytes of i).
func storeWithTree(_ count: Int, in dir: TemporaryDirectory) async throws -> (Store, StoredMerkleTree, [[UInt8]]) {
    let store = try makeTestStore(in: dir)
    let tree = StoredMerkleTree(tables: store.tables)
    let leaves = (0..<count).map { TreeHash.leaf(StoreKey.u64(UInt64($0))) }
    var start = 0
    while start < count {
        let end = min(count, start + 20_000)
        let slice = Array(leaves[start..<end])
        let offset = start
        try await store.write { txn in
            for (i, leaf) in slice.enumerated() { try tree.append(leafHash: leaf, at: UInt64(offset + i), in: txn) }
        }
        start = end
    }
    return (store, tree, leaves)
}

@Suite struct MerkleTreeTests {
    @Test func referenceVectorsGiveTheKnownRoots() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let tree = StoredMerkleTree(tables: store.tables)
        let leafHashes = referenceLeaves.map { TreeHash.leaf($0) }
        try await store.write { txn in
            for (i, leaf) in leafHashes.enumerated() { try tree.append(leafHash: leaf, at: UInt64(i), in: txn) }
        }
        for size in 1...8 {
            #expect(hexString(MerkleProofs.root(ofLeafHashes: leafHashes[0..<size])) == referenceRoots[size - 1])
            #expect(hexString(try store.read { try tree.root(size: UInt64(size), in: $0) }) == referenceRoots[size - 1])
        }
        #expect(hexString(TreeHash.empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func everyInclusionAndConsistencyProofUpTo64Verifies() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (store, tree, leaves) = try await storeWithTree(64, in: dir)
        defer { store.close() }
        var failures = 0
        try store.read { txn in
            for size in 1...64 {
                let root = MerkleProofs.root(ofLeafHashes: leaves[0..<size])
                guard try tree.root(size: UInt64(size), in: txn) == root else { failures += 1; continue }
                for index in 0..<size {
                    let proof = try tree.inclusionProof(index: UInt64(index), size: UInt64(size), in: txn)
                    if !MerkleProofs.verifyInclusion(leafHash: leaves[index], index: UInt64(index), size: UInt64(size), proof: proof, root: root) { failures += 1 }
                    // A proof for one leaf must not prove another.
                    if size > 1, MerkleProofs.verifyInclusion(leafHash: leaves[(index + 1) % size], index: UInt64(index), size: UInt64(size), proof: proof, root: root) { failures += 1 }
                }
                for old in 1...size {
                    let oldRoot = MerkleProofs.root(ofLeafHashes: leaves[0..<old])
                    let proof = try tree.consistencyProof(oldSize: UInt64(old), newSize: UInt64(size), in: txn)
                    if !MerkleProofs.verifyConsistency(oldSize: UInt64(old), oldRoot: oldRoot, newSize: UInt64(size), newRoot: root, proof: proof) { failures += 1 }
                    if old < size, let first = proof.first {
                        var bad = proof
                        bad[0] = TreeHash.node(first, first)
                        if MerkleProofs.verifyConsistency(oldSize: UInt64(old), oldRoot: oldRoot, newSize: UInt64(size), newRoot: root, proof: bad) { failures += 1 }
                    }
                }
            }
        }
        #expect(failures == 0)
    }

    @Test func randomProofsOnATreeOf100000LeavesVerify() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let count = 100_000
        let (store, tree, leaves) = try await storeWithTree(count, in: dir)
        defer { store.close() }
        var rng = SystemRandomNumberGenerator()
        let cases: [(size: Int, index: Int, old: Int)] = (0..<40).map { _ in
            let size = Int.random(in: 1...count, using: &rng)
            return (size, Int.random(in: 0..<size, using: &rng), Int.random(in: 1...size, using: &rng))
        }
        // Reference roots at every size the cases need, from one pass over the leaves.
        let wanted = Set(cases.flatMap { [$0.size, $0.old] })
        var roots: [Int: [UInt8]] = [:]
        var range = CompactRange()
        for leaf in leaves {
            range.append(leafHash: leaf) { _, _, _ in }
            if wanted.contains(Int(range.size)) { roots[Int(range.size)] = range.root }
        }
        var failures = 0
        for (size, index, old) in cases {
            let (inclusion, consistency, storedRoot) = try store.read { txn in
                (try tree.inclusionProof(index: UInt64(index), size: UInt64(size), in: txn),
                 try tree.consistencyProof(oldSize: UInt64(old), newSize: UInt64(size), in: txn),
                 try tree.root(size: UInt64(size), in: txn))
            }
            let root = roots[size]!
            if storedRoot != root { failures += 1 }
            if !MerkleProofs.verifyInclusion(leafHash: leaves[index], index: UInt64(index), size: UInt64(size), proof: inclusion, root: root) { failures += 1 }
            if !MerkleProofs.verifyConsistency(oldSize: UInt64(old), oldRoot: roots[old]!, newSize: UInt64(size), newRoot: root, proof: consistency) { failures += 1 }
        }
        #expect(failures == 0)
        #expect(try store.read { try $0.count(store.tables.ledgerNodes) } == Int(StoredMerkleTree.storedNodeCount(size: UInt64(count))))
    }

    @Test func verifierRefusesProofsForTheWrongIndexOrSize() {
        let leaves = referenceLeaves.map { TreeHash.leaf($0) }
        let root = MerkleProofs.root(ofLeafHashes: leaves[...])
        let proof = MerkleProofs.inclusion(index: 3, size: 8) { MerkleProofs.root(ofLeafHashes: leaves[Int($0)..<Int($1)]) }
        #expect(MerkleProofs.verifyInclusion(leafHash: leaves[3], index: 3, size: 8, proof: proof, root: root))
        #expect(!MerkleProofs.verifyInclusion(leafHash: leaves[3], index: 2, size: 8, proof: proof, root: root))
        #expect(!MerkleProofs.verifyInclusion(leafHash: leaves[3], index: 3, size: 4, proof: proof, root: root))
        #expect(!MerkleProofs.verifyInclusion(leafHash: leaves[3], index: 3, size: 8, proof: proof.dropLast(), root: root))
        #expect(!MerkleProofs.verifyInclusion(leafHash: leaves[3], index: 8, size: 8, proof: proof, root: root))
    }
}
