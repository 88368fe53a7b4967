import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraReadings
import AgoraStore
import AgoraTestSupport
import Crypto
import Foundation
import Testing

/// A ledger with an owner and two sensors (the second frozen), for storing readings.
struct ReadingsFixture {
    let dir: TemporaryDirectory
    let store: Store
    let ledger: Ledger
    let market: Market
    let signer: NoteSigner
    let a = try! SensorID("air-1"), b = try! SensorID("air-2"), frozen = try! SensorID("air-3")

    init() async throws {
        dir = try TemporaryDirectory("agora-readings")
        store = try makeTestStore(in: dir)
        signer = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        ledger = Ledger(tables: store.tables, origin: "gw1.example/agora", signer: signer)
        market = Market(store: store, ledger: ledger)
        let genesis = LedgerEntry(time: .now(), actor: .gateway, body: .genesis(.init(origin: "gw1.example/agora", name: "GW",
                                                                                       logKey: signer.verifier.description, checkpointInterval: 1000)))
        let ledger = self.ledger
        _ = try await store.write { txn in try ledger.initialize(genesis: genesis, in: txn) }
        let owner = try BareJID("owner@gw1.example")
        _ = try await market.openAccount(owner, role: .owner, actor: .operator)
        for id in [a, b, frozen] {
            _ = try await market.registerSensor(.init(sensor: id, owner: owner, kind: "pm25", name: "", unit: "ug/m3", price: try Credits(1),
                                                      frequency: 1, lat: nil, lon: nil, url: ""), actor: .operator)
        }
        _ = try await market.freezeSensor(frozen, reason: "test", actor: .operator)
    }

    func seal() async throws {
        let ledger = self.ledger
        _ = try await store.write { txn in try ledger.seal(in: txn) }
    }

    func close() { store.close(); dir.remove() }
}

@Suite struct ReadingsCommitterTests {
    let base: Int64 = 1_795_341_600_000_000_000

    @Test func aRedeliveredBatchIsStoredOnceAndAnOverlappingOneAddsOnlyWhatIsNew() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        let query = ReadingsQuery(store: f.store, ledger: f.ledger)
        func readings(_ range: Range<Int>) -> [Reading] {
            range.map { Reading(name: "pm25", time: base + Int64($0) * 1_000_000, unit: "ug/m3", value: .number(Double($0))) }
        }
        guard case .committed(_, 100)? = try await committer.commit([f.a: readings(0..<100)])[f.a] else { Issue.record("first"); return }
        let ledgerSize = try f.store.read { txn in try f.ledger.size(in: txn) }
        // The same packs again (a QoS 1 redelivery): nothing stored, no ledger entry.
        #expect(try await committer.commit([f.a: readings(0..<100)])[f.a] == .alreadyStored(count: 100))
        #expect(try f.store.read { txn in try f.ledger.size(in: txn) } == ledgerSize)
        // Half old, half new, and a repeat inside the batch: only the 50 new ones, once each.
        guard case .committed(_, 50)? = try await committer.commit([f.a: readings(50..<150) + readings(120..<130)])[f.a] else {
            Issue.record("overlap"); return
        }
        #expect(try query.readings(of: f.a) == readings(0..<150))
        // Same time, another value: a different reading, stored beside the first.
        let other = Reading(name: "pm25", time: base, unit: "ug/m3", value: .number(-1))
        guard case .committed(_, 1)? = try await committer.commit([f.a: [other]])[f.a] else { Issue.record("same time"); return }
        #expect(try query.readings(of: f.a).count == 151)
    }

    @Test func interleavedBatchesCommitPerSensorAndExportExactly() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        let query = ReadingsQuery(store: f.store, ledger: f.ledger)
        var expectedA: [Reading] = [], expectedB: [Reading] = []
        for round in 0..<10 {
            var batch: [SensorID: [Reading]] = [:]
            for i in (0..<1000).reversed() { // out of order on purpose
                let t = base + Int64(round * 1000 + i) * 1_000_000
                let r = Reading(name: "pm25", time: t, unit: "ug/m3", value: .number(Double(i) / 8))
                batch[i % 2 == 0 ? f.a : f.b, default: []].append(r)
            }
            batch[f.frozen] = [Reading(name: "pm25", time: base, value: .number(1))]
            batch[try SensorID("ghost")] = [Reading(name: "pm25", time: base, value: .number(1))]
            let outcomes = try await committer.commit(batch)
            #expect(outcomes[f.frozen] == .frozen)
            #expect(outcomes[try SensorID("ghost")] == .unknownSensor)
            guard case .committed(_, 500)? = outcomes[f.a], case .committed(_, 500)? = outcomes[f.b] else {
                Issue.record("round \(round): \(outcomes)"); return
            }
            expectedA += batch[f.a]!.sorted { $0.time < $1.time }
            expectedB += batch[f.b]!.sorted { $0.time < $1.time }
        }
        let exportedA = try query.readings(of: f.a)
        #expect(exportedA.count == 5000)
        #expect(exportedA == expectedA)
        #expect(try query.readings(of: f.b) == expectedB)
        #expect(try query.readings(of: f.frozen).isEmpty)
        // A window is a range: [from, to).
        let window = try query.readings(of: f.a, from: base + 2_000_000_000, to: base + 3_000_000_000)
        #expect(window.count == 500 && window.allSatisfy { $0.time >= base + 2_000_000_000 && $0.time < base + 3_000_000_000 })
        _ = try LedgerAudit.verify(store: f.store)
    }

    @Test func everyReadingOfABatchHasAProofThatVerifiesOffline() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        let readings = (0..<37).map { Reading(name: "temp", time: base + Int64($0) * 1_000_000_000, unit: "Cel", value: .number(20 + Double($0) / 10)) }
        _ = try await committer.commit([f.a: readings])
        try await f.seal()
        let query = ReadingsQuery(store: f.store, ledger: f.ledger)
        for reading in readings {
            let proof = try query.prove(sensor: f.a, time: reading.time)
            #expect(try proof.verify(with: f.signer.verifier) == reading)
        }
        // A proof whose reading was altered, or checked against another key, fails.
        let good = try query.prove(sensor: f.a, time: readings[5].time)
        let goodRecord = Array(Data(base64Encoded: good.record)!)
        var altered = try Reading(canonical: goodRecord)
        altered.value = .number(99)
        // Same salt, another value: only the value is wrong.
        let salt = try #require(try Reading.salt(ofCanonical: goodRecord))
        let forged = ReadingsQuery.Proof(record: Data(altered.canonicalBytes(salt: salt)).base64EncodedString(), leafIndex: good.leafIndex,
                                         batchSize: good.batchSize, batchProof: good.batchProof, receipt: good.receipt)
        #expect(throws: LedgerError.self) { try forged.verify(with: f.signer.verifier) }
        let stranger = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        #expect(throws: LedgerError.self) { try good.verify(with: stranger.verifier) }
    }
}
