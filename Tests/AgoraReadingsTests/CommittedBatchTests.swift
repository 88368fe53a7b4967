import AgoraCore
import AgoraLedger
import AgoraReadings
import AgoraStore
import Foundation
import Synchronization
import Testing

/// What the committer hands to live delivery, and how a batch is found again by its commit:
/// whole, whatever its readings' times, until retention prunes it.
@Suite struct CommittedBatchTests {
    let base: Int64 = 1_795_341_600_000_000_000

    func readings(_ seconds: [Int64]) -> [Reading] {
        seconds.map { Reading(name: "pm25", time: base + $0 * 1_000_000_000, unit: "ug/m3", value: .number(Double($0))) }
    }

    @Test func theCommitterHandsOverEachDurableBatchWithProofsThatReachItsRoot() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let handed = Mutex<[CommittedBatch]>([])
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger) { batches in handed.withLock { $0 += batches } }
        let outcomes = try await committer.commit([f.a: readings([3, 1, 2]), f.b: readings([7]), f.frozen: readings([9])])
        let batches = handed.withLock { $0 }
        #expect(batches.map(\.sensor) == [f.a, f.b])   // the frozen sensor's readings are refused, not handed over
        guard case .committed(let index, 3)? = outcomes[f.a] else { Issue.record("\(outcomes)"); return }
        let batch = batches[0]
        #expect(batch.commit == index)
        #expect(batch.items.map(\.reading.time) == [1, 2, 3].map { base + $0 * 1_000_000_000 })
        // The audit paths lead to the root the ledger entry commits to.
        let entry = try f.store.read { try LedgerEntry(decoding: try f.ledger.entry(at: index, in: $0)) }
        guard case .readingsCommit(let commit) = entry.body else { Issue.record("not a commit"); return }
        for item in batch.withProofs() {
            let root = try #require(Data(base64Encoded: commit.root))
            #expect(MerkleProofs.verifyInclusion(leafHash: TreeHash.leaf(item.record), index: item.leafIndex!, size: item.batchSize!,
                                                 proof: item.path!, root: Array(root)))
        }
        // A redelivery commits nothing and hands nothing over.
        _ = try await committer.commit([f.a: readings([3, 1, 2])])
        #expect(handed.withLock { $0.count } == 2)
    }

    @Test func batchesAreFoundByCommitWholeEvenWhenTheirReadingsAreLate() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        var commits: [UInt64] = []
        // The second batch holds a late reading (second 5, before the first batch's) and a new one.
        for seconds in [[10, 11, 12], [5, 30], [20, 21]] as [[Int64]] {
            guard case .committed(let index, _)? = try await committer.commit([f.a: readings(seconds)])[f.a] else { Issue.record("commit"); return }
            commits.append(index)
        }
        let query = ReadingsQuery(store: f.store, ledger: f.ledger)
        let newest = try query.batches(of: f.a, .newest(2))
        #expect(newest.map(\.commit) == Array(commits.suffix(2)))
        #expect(newest.map { $0.items.map(\.reading.time) } == [[5, 30], [20, 21]].map { $0.map { base + $0 * 1_000_000_000 } })
        #expect(try query.batches(of: f.a, .after(commits[0], max: 5)).map(\.commit) == Array(commits.dropFirst()))
        #expect(try query.batches(of: f.a, .after(commits[0], max: 1)).map(\.commit) == [commits[1]])
        #expect(try query.batches(of: f.a, .commits([commits[0], 999_999])).map { $0.items.count } == [3])
        #expect(try query.batches(of: f.b, .newest(5)).isEmpty)
        // Retention takes the readings older than second 11 (seconds 5 and 10): both batches they belong to
        // are no longer whole, and no longer found.
        let retention = ReadingsRetention(store: f.store, policy: .init(maxAgeSeconds: 1), chunk: 3)
        _ = try await retention.prune(now: base + 12 * 1_000_000_000)
        #expect(try query.batches(of: f.a, .newest(5)).map(\.commit) == [commits[2]])
    }
}
