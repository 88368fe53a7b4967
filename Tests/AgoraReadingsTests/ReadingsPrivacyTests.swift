import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraReadings
import AgoraStore
import AgoraTestSupport
import Foundation
import Testing

/// Issue 14, finding 2, for readings: a proof page's audit paths hold the leaf hashes of
/// the readings just outside the bought window. Salted records make those hashes useless
/// to a buyer; batches committed before salts keep verifying (and keep leaking, as the
/// control below shows).
@Suite struct ReadingsPrivacyTests {
    let base: Int64 = 1_795_341_600_000_000_000
    static let second: Int64 = 1_000_000_000

    /// One reading a second, values 0, 0.25, 0.5, … — as guessable as sensor data gets.
    func readings(_ range: Range<Int>) -> [Reading] {
        range.map { Reading(name: "pm25", time: base + Int64($0) * Self.second, unit: "ug/m3", value: .number(Double($0) / 4)) }
    }

    /// The buyer's search: the reading at `time`, every value 0…250 in steps of 0.25, unsalted.
    func recover(leafHash: [UInt8], time: Int64) -> Double? {
        for step in 0...1000 {
            let guess = Reading(name: "pm25", time: time, unit: "ug/m3", value: .number(Double(step) / 4))
            if TreeHash.leaf(guess.canonicalBytes()) == leafHash { return Double(step) / 4 }
        }
        return nil
    }

    /// A page of [0 s, 7 s) with proofs, every item checked against its receipt; returns the
    /// page and the leaf hash of the reading at 7 s (the last item's sibling, outside the window).
    func pageAndOutsideNeighbour(_ f: ReadingsFixture, sensor: SensorID) throws -> (ReadingsPage, [UInt8]) {
        let query = ReadingsQuery(store: f.store, ledger: f.ledger)
        let page = try query.page(of: sensor, from: base, to: base + 7 * Self.second, after: nil, limit: 100, proofs: true)
        #expect(page.items.map(\.reading) == readings(0..<7))
        for item in page.items {
            let receipt = try #require(page.receipts[item.commit])
            guard case .readingsCommit(let commit) = try LedgerEntry(decoding: try receipt.verify(with: f.signer.verifier)).body else {
                Issue.record("not a readings.commit"); continue
            }
            let root = try #require(Data(base64Encoded: commit.root))
            #expect(MerkleProofs.verifyInclusion(leafHash: TreeHash.leaf(item.record), index: try #require(item.leafIndex),
                                                 size: try #require(item.batchSize), proof: try #require(item.path), root: Array(root)))
        }
        let last = try #require(page.items.last)
        #expect(last.leafIndex == 6)
        return (page, try #require(last.path?.first))
    }

    @Test func aProofPageShowsSaltsOnlyInsideTheWindowAndTheNeighbourOutsideCannotBeBruteForced() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committed = try await ReadingsCommitter(store: f.store, ledger: f.ledger).commit([f.a: readings(0..<16)])
        guard case .committed(let index, 16)? = committed[f.a] else { Issue.record("\(committed)"); return }
        try await f.seal()
        let commitEntry = try LedgerEntry(decoding: try f.store.read { try f.ledger.entry(at: index, in: $0) })
        #expect(commitEntry.version == 2)

        let (page, neighbour) = try pageAndOutsideNeighbour(f, sensor: f.a)
        let salts = try page.items.map { try #require(try Reading.salt(ofCanonical: $0.record)) }
        #expect(Set(salts).count == 7 && salts.allSatisfy { $0.bytes.count == 16 }, "every reading in the window has its own salt")
        #expect(recover(leafHash: neighbour, time: base + 7 * Self.second) == nil, "a salted neighbour was recovered from its leaf hash")
        // The neighbour's real record (which only the owner, an operator or its buyer sees) is what that hash commits to.
        let stored = try #require(try ReadingsQuery(store: f.store, ledger: f.ledger)
            .page(of: f.a, from: base + 7 * Self.second, to: base + 8 * Self.second, after: nil, limit: 1, proofs: false).items.first)
        #expect(TreeHash.leaf(stored.record) == neighbour)
        #expect(try ReadingsQuery(store: f.store, ledger: f.ledger).prove(sensor: f.a, time: base + 7 * Self.second).verify(with: f.signer.verifier)
                == readings(7..<8)[0])
    }

    @Test func unsaltedBatchesOfAnOlderStoreStillVerifyAndTheirNeighboursLeak() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        // What a gateway wrote before salts: a version-1 readings.commit over unsalted records.
        let old = readings(0..<16)
        let records = old.map { $0.canonicalBytes() }
        let root = MerkleProofs.root(ofLeafHashes: records.map { TreeHash.leaf($0) }[...])
        let entry = LedgerEntry(time: .now(), actor: .sensor(f.b), body: .readingsCommit(.init(
            sensor: f.b, first: Reading.formatTime(old.first!.time), last: Reading.formatTime(old.last!.time),
            count: old.count, root: Data(root).base64EncodedString())), salt: nil)
        let (store, ledger, sensor) = (f.store, f.ledger, f.b)
        _ = try await store.write { txn in
            let index = try Projection(tables: store.tables).append(entry, to: ledger, in: txn)
            let sensorIndex = try #require(try MarketState(tables: store.tables, txn: txn).sensor(sensor)).index
            for (i, (reading, bytes)) in zip(old, records).enumerated() {
                try txn.put(store.tables.readings, ReadingsKey.key(sensor: sensorIndex, time: reading.time, seq: 1_000_000 + UInt64(i)),
                            StoreKey.u64(index) + bytes, flags: .noOverwrite)
            }
        }
        try await f.seal()

        let (page, neighbour) = try pageAndOutsideNeighbour(f, sensor: f.b)
        #expect(try page.items.allSatisfy { try Reading.salt(ofCanonical: $0.record) == nil })
        #expect(recover(leafHash: neighbour, time: base + 7 * Self.second) == 7.0 / 4, "the unsalted neighbour should fall to the search")
        #expect(try ReadingsQuery(store: f.store, ledger: f.ledger).prove(sensor: f.b, time: base + 3 * Self.second).verify(with: f.signer.verifier)
                == old[3])

        // New readings of the same sensor commit salted beside the old ones; a redelivery of
        // the old batch is recognised as stored although its records carry no salt.
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        #expect(try await committer.commit([f.b: old])[f.b] == .alreadyStored(count: 16))
        guard case .committed(_, 4)? = try await committer.commit([f.b: readings(16..<20)])[f.b] else { Issue.record("new batch"); return }
        #expect(try await committer.commit([f.b: readings(12..<20)])[f.b] == .alreadyStored(count: 8))
        #expect(try ReadingsQuery(store: f.store, ledger: f.ledger).readings(of: f.b) == readings(0..<20))
        _ = try LedgerAudit.verify(store: f.store)
    }
}
