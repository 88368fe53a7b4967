import AgoraCore
import AgoraLedger
import AgoraStore
import AgoraTestSupport
import Crypto
import Foundation
import Testing

/// A ledger with a genesis entry and `count` mint entries, checkpoints sealed every 7 entries.
struct LedgerFixture {
    let dir: TemporaryDirectory
    let store: Store
    let ledger: Ledger
    let signer: NoteSigner

    init(entries count: Int) async throws {
        dir = try TemporaryDirectory()
        store = try makeTestStore(in: dir)
        signer = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        ledger = Ledger(tables: store.tables, origin: "gw1.example/agora", signer: signer)
        let time = try Timestamp(rfc3339: "2026-11-22T10:00:00Z")
        let genesis = LedgerEntry(time: time, actor: .gateway, body: .genesis(.init(
            origin: "gw1.example/agora", name: "GW", logKey: signer.verifier.description, checkpointInterval: 1000)))
        let ledger = self.ledger
        _ = try await store.write { txn in try ledger.initialize(genesis: genesis, in: txn) }
        let bob = try BareJID("bob@gw1.example")
        for start in stride(from: 0, to: count, by: 7) {
            let end = min(count, start + 7)
            try await store.write { txn in
                for n in start..<end {
                    try ledger.append(LedgerEntry(time: time, actor: .operator,
                                                  body: .creditMint(.init(to: bob, amount: try Credits(UInt64(n + 1)), memo: "m\(n)"))), in: txn)
                }
                try ledger.seal(in: txn)
            }
        }
    }

    func close() { store.close(); dir.remove() }

    /// Overwrites a stored value, bypassing the ledger, as an attacker with file access would.
    func tamper(_ db: Database, key: [UInt8], _ change: @escaping @Sendable ([UInt8]) -> [UInt8]) async throws {
        try await store.write { txn in
            let value = try txn.get(db, key)!
            try txn.put(db, key, change(value))
        }
    }
}

@Suite struct LedgerAuditTests {
    @Test func intactLedgerVerifies() async throws {
        let fixture = try await LedgerFixture(entries: 50)
        defer { fixture.close() }
        let report = try LedgerAudit.verify(store: fixture.store, trusted: fixture.signer.verifier)
        #expect(report.entries == 51)
        #expect(report.checkpoints == 9) // genesis + one per group of 7
    }

    @Test(arguments: [0, 1, 13, 32, 50])
    func alteringAnyEntryByteFailsAndNamesTheIndex(_ index: Int) async throws {
        let fixture = try await LedgerFixture(entries: 50)
        defer { fixture.close() }
        let length = try fixture.store.read { try $0.get(fixture.store.tables.ledgerEntries, StoreKey.u64(UInt64(index)))!.count }
        for position in [0, length / 2, length - 1] {
            try await fixture.tamper(fixture.store.tables.ledgerEntries, key: StoreKey.u64(UInt64(index))) { bytes in
                var changed = bytes
                changed[position] ^= 0x01
                return changed
            }
            do {
                _ = try LedgerAudit.verify(store: fixture.store)
                Issue.record("tampered entry \(index) byte \(position) was not detected")
            } catch let error as LedgerError {
                #expect(error.isTampering || index == 0)
                #expect(error.index == UInt64(index))
                #expect(error.description.contains("entry \(index)"))
            }
            try await fixture.tamper(fixture.store.tables.ledgerEntries, key: StoreKey.u64(UInt64(index))) { bytes in
                var restored = bytes
                restored[position] ^= 0x01
                return restored
            }
        }
        _ = try LedgerAudit.verify(store: fixture.store)
    }

    @Test func rewritingAnEntryWithItsLeafIsCaughtByTheSignedCheckpoint() async throws {
        let fixture = try await LedgerFixture(entries: 20)
        defer { fixture.close() }
        // An attacker rewrites entry 5 and recomputes its leaf and all interior nodes.
        let tables = fixture.store.tables
        try await fixture.store.write { txn in
            let forged = Array(#"{"actor":"operator","amount":999,"memo":"","time":"2026-11-22T10:00:00Z","to":"eve@gw1.example","type":"credit.mint","v":1}"#.utf8)
            try txn.put(tables.ledgerEntries, StoreKey.u64(5), forged)
            try txn.drop(tables.ledgerNodes)
            let tree = StoredMerkleTree(tables: tables)
            for i in 0..<21 {
                try tree.append(leafHash: TreeHash.leaf(try txn.get(tables.ledgerEntries, StoreKey.u64(UInt64(i)))!), at: UInt64(i), in: txn)
            }
        }
        #expect(throws: LedgerError.self) { try LedgerAudit.verify(store: fixture.store) }
    }

    @Test func alteredInteriorNodeOrCheckpointSignatureFails() async throws {
        let fixture = try await LedgerFixture(entries: 20)
        defer { fixture.close() }
        var nodeKey = StoreKey(); nodeKey.append(UInt8(2)); nodeKey.append(UInt64(1))
        try await fixture.tamper(fixture.store.tables.ledgerNodes, key: nodeKey.bytes) { $0.map { $0 ^ 0xFF } }
        #expect(throws: LedgerError.self) { try LedgerAudit.verify(store: fixture.store) }
        try await fixture.tamper(fixture.store.tables.ledgerNodes, key: nodeKey.bytes) { $0.map { $0 ^ 0xFF } }
        _ = try LedgerAudit.verify(store: fixture.store)

        let checkpointSize = try fixture.store.read { try fixture.ledger.latestCheckpoint(in: $0)!.size }
        try await fixture.tamper(fixture.store.tables.ledgerCheckpoints, key: StoreKey.u64(checkpointSize)) { note in
            // A character in the middle of the signature (the last ones may be padding bits).
            var bytes = note
            let position = bytes.count - 30
            bytes[position] = bytes[position] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            return bytes
        }
        do {
            _ = try LedgerAudit.verify(store: fixture.store)
            Issue.record("a forged checkpoint signature passed")
        } catch let error as LedgerError {
            #expect(error.isBadSignature)
        }
    }

    @Test func aTrustedKeyOtherThanTheGenesisKeyIsRefused() async throws {
        let fixture = try await LedgerFixture(entries: 3)
        defer { fixture.close() }
        let other = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        #expect(throws: LedgerError.self) { try LedgerAudit.verify(store: fixture.store, trusted: other.verifier) }
    }
}

@Suite struct ReceiptTests {
    @Test func everyEntrysReceiptVerifiesOfflineWithTheLogKey() async throws {
        let fixture = try await LedgerFixture(entries: 30)
        defer { fixture.close() }
        for index in 0..<31 {
            let receipt = try fixture.store.read { try fixture.ledger.receipt(for: UInt64(index), in: $0) }
            let parsed = try Receipt(json: try receipt.json())
            let entry = try parsed.verify(with: fixture.signer.verifier)
            #expect(entry == (try fixture.store.read { try fixture.ledger.entry(at: UInt64(index), in: $0) }))
        }
    }

    @Test func receiptWithWrongKeyAlteredEntryOrTruncatedJSONFails() async throws {
        let fixture = try await LedgerFixture(entries: 10)
        defer { fixture.close() }
        let receipt = try fixture.store.read { try fixture.ledger.receipt(for: 4, in: $0) }
        let other = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        #expect(throws: LedgerError.self) { try receipt.verify(with: other.verifier) }

        var object = try JSONSerialization.jsonObject(with: Data(try receipt.json())) as! [String: Any]
        let entry = Data(base64Encoded: object["entry"] as! String)!
        object["entry"] = Data(entry.map { $0 == UInt8(ascii: "1") ? UInt8(ascii: "2") : $0 }).base64EncodedString()
        let altered = try Receipt(json: Array(try JSONSerialization.data(withJSONObject: object)))
        #expect(throws: LedgerError.self) { try altered.verify(with: fixture.signer.verifier) }

        let json = try receipt.json()
        for cut in stride(from: 0, to: json.count, by: 17) {
            #expect(throws: LedgerError.self) { _ = try Receipt(json: Array(json[0..<cut])).verify(with: fixture.signer.verifier) }
        }
    }

    @Test func receiptBeforeAnyCheckpointCoversTheEntryIsRefused() async throws {
        let fixture = try await LedgerFixture(entries: 3)
        defer { fixture.close() }
        let ledger = fixture.ledger
        let index = try await fixture.store.write { txn in
            try ledger.append(LedgerEntry(time: .now(), actor: .operator, body: .accountOpen(.init(jid: try BareJID("x@gw1.example"), role: .consumer))), in: txn)
        }
        #expect(throws: LedgerError.noCheckpoint(covering: index)) { try fixture.store.read { try ledger.receipt(for: index, in: $0) } }
    }
}
