// Issue 20's witness benchmark: drives one witness (`agora serve` with the logs printed by
// `keys`) with LOGS logs of 10^6+ entries each, every one growing and checkpointing, each
// request carrying a consistency proof over the big tree. Run through
// Benchmarks/witness/run.sh, which reads the witness's CPU time around `drive`.
import AgoraHTTP
import AgoraLedger
import Crypto
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: agora-witness-load keys|drive SEED-FILE [PORT LOGS ROUNDS]")
    exit(2)
}
let logs = arguments.count > 4 ? Int(arguments[4])! : 100
let rounds = arguments.count > 5 ? Int(arguments[5])! : 10
let base = 1 << 20  // 1,048,576 entries before the first checkpoint

// The log keys, derived from a seed so `keys` and `drive` agree.
let seed = try Data(contentsOf: URL(fileURLWithPath: arguments[2]))
let signers = try (0..<logs).map { i in
    try NoteSigner(name: "log\(i).bench.example/agora", rawPrivateKey: Array(SHA256.hash(data: seed + Data("\(i)".utf8))))
}
if arguments[1] == "keys" {
    print(signers.map(\.verifier.description).joined(separator: ","))
    exit(0)
}

// One tree shared by every log (each log is its own origin to the witness): levels of
// leaf hashes, so any subtree hash is a look-up or a few hashes at the right edge.
func makeLevels(_ total: Int) -> [[[UInt8]]] {
    var levels: [[[UInt8]]] = [(0..<total).map { TreeHash.leaf(withUnsafeBytes(of: UInt64($0).bigEndian) { Array($0) }) }]
    while levels.last!.count > 1 {
        let below = levels.last!
        levels.append(stride(from: 0, to: below.count - 1, by: 2).map { TreeHash.node(below[$0], below[$0 + 1]) })
    }
    return levels
}
let levels = makeLevels(base + rounds * 16)
@Sendable func subtree(_ start: UInt64, _ end: UInt64) -> [UInt8] {
    let n = end - start
    if n == 1 { return levels[0][Int(start)] }
    if n & (n - 1) == 0, start % n == 0 { return levels[n.trailingZeroBitCount][Int(start / n)] }
    let k = MerkleProofs.split(n)
    return TreeHash.node(subtree(start, start + k), subtree(start + k, end))
}

let port = Int(arguments[3])!
let client = try HTTPClient(trustRoots: [])
var accepted = 0, refused = 0
var known: UInt64 = 0
let started = ContinuousClock.now
for round in 0..<rounds {
    let size = UInt64(base + round * 16 + Int.random(in: 1...15))
    let old = known
    let (ok, no) = await withTaskGroup(of: Bool.self) { group -> (Int, Int) in
        var counts = (0, 0), inFlight = 0
        for signer in signers {
            // At most 8 connections at once (the listener allows 16 per address).
            if inFlight == 8, let ok = await group.next() { if ok { counts.0 += 1 } else { counts.1 += 1 }; inFlight -= 1 }
            inFlight += 1
            group.addTask {
                let known = old
                let checkpoint = try! Checkpoint(origin: signer.verifier.name, size: size, root: subtree(0, size)).signed(by: signer).serialized
                let proof = known == 0 ? [] : MerkleProofs.consistency(oldSize: known, newSize: size, subtree: subtree)
                let body = AddCheckpointRequest(oldSize: known, proof: proof, checkpoint: checkpoint).body
                let response = try? await client.post(host: "127.0.0.1", port: port, useTLS: false, path: "/add-checkpoint", body: body,
                                                      contentType: "text/plain", timeout: .seconds(30))
                return response?.status == 200
            }
        }
        for await ok in group { if ok { counts.0 += 1 } else { counts.1 += 1 } }
        return counts
    }
    accepted += ok
    refused += no
    known = size
}
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(String(format: "cosigned %d refused %d in %.2f s: %.0f cosignatures/s (tree of %d entries, proofs of ~%d hashes)",
             accepted, refused, seconds, Double(accepted) / seconds, base, Int(log2(Double(base)))))
