import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraStore
import AgoraTestSupport
import Foundation
import Testing

/// Issue 14, finding 2: proofs are open to every account, and an audit path holds the leaf
/// hashes of neighbouring entries. These tests play the consumer who tried it — carol, who
/// knows that bob paid dave something and roughly when — with a real receipt of her own
/// entry, whose first hash is the leaf of bob's transfer.
@Suite struct EntryPrivacyTests {
    /// What carol knows and tries: every amount 1…1000, every second in ±`slack` of the
    /// time, in both entry formats (a version-2 guess has to pick some salt; she has none).
    struct BruteForce {
        let from: BareJID, to: BareJID
        let around: Timestamp
        var slack: Int64 = 5

        func recover(leafHash: [UInt8]) throws -> UInt64? {
            let guessedSalts: [Salt?] = [nil, Salt(bytes: [UInt8](repeating: 0, count: Salt.byteCount))]
            for seconds in (around.seconds - slack)...(around.seconds + slack) {
                let time = try Timestamp(seconds: seconds)
                for amount in UInt64(1)...1000 {
                    for salt in guessedSalts {
                        let guess = LedgerEntry(time: time, actor: .account(from),
                                                body: .creditTransfer(.init(from: from, to: to, amount: try Credits(amount))), salt: salt)
                        if TreeHash.leaf(try guess.encoded()) == leafHash { return amount }
                    }
                }
            }
            return nil
        }
    }

    /// Makes the ledger's size even, so the next entry's right-hand neighbour is its sibling
    /// leaf: the first hash of that neighbour's audit path.
    func alignToPair(_ f: MarketFixture) async throws {
        if try f.ledgerSize % 2 == 1 { _ = try await f.market.mint(try Credits(1), to: f.alice, memo: "padding", actor: .operator) }
    }

    /// Carol's receipt of her own entry right after `index`, and its first audit-path hash.
    func neighbourLeafFromCarolsReceipt(_ f: MarketFixture, after index: UInt64) async throws -> [UInt8] {
        let carols = try await f.market.mint(try Credits(1), to: f.carol, memo: "", actor: .operator)
        #expect(carols.index == index + 1)
        let ledger = f.ledger
        _ = try await f.store.write { txn in try ledger.seal(in: txn) }
        let receipt = try f.store.read { txn in try f.ledger.receipt(for: carols.index, in: txn) }
        let entry = try LedgerEntry(decoding: try f.store.read { try f.ledger.entry(at: carols.index, in: $0) })
        #expect(try f.store.read { txn in try AccessPolicy.mayReadEntry(entry, reader: f.carol, in: txn, tables: f.store.tables) }.isAllowed)
        return try #require(receipt.inclusion.first.flatMap { Data(base64Encoded: $0) }.map { Array($0) })
    }

    @Test func aSmallTransferCannotBeBruteForcedFromAnotherAccountsReceiptButAVersionOneEntryCould() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let dave = try BareJID("dave@gw1.example")
        _ = try await f.market.openAccount(dave, role: .consumer, actor: .operator)
        _ = try await f.market.mint(try Credits(500), to: f.bob, memo: "", actor: .operator)
        let attack = BruteForce(from: f.bob, to: dave, around: MarketFixture.now)

        // Today's format: bob → dave 237, written by the market as a version-2 entry.
        try await alignToPair(f)
        let transfer = try await f.market.transfer(try Credits(237), from: f.bob, to: dave, actor: .account(f.bob))
        #expect(transfer.entry.version == 2 && transfer.entry.salt?.bytes.count == 16)
        let stored = try f.store.read { try f.ledger.entry(at: transfer.index, in: $0) }
        // Carol may not read the entry, so its salt never reaches her...
        let denied = try f.store.read { txn in try AccessPolicy.mayReadEntry(transfer.entry, reader: f.carol, in: txn, tables: f.store.tables) }
        #expect(!denied.isAllowed)
        // ...but the leaf hash does, in the receipt of her own next entry.
        let leaf = try await neighbourLeafFromCarolsReceipt(f, after: transfer.index)
        #expect(leaf == TreeHash.leaf(stored), "the hash carol holds is the transfer's leaf")
        #expect(try attack.recover(leafHash: leaf) == nil, "the amount of a salted transfer was recovered")
        // A consistency proof from the tree that ended with the transfer hands out the same leaf
        // (RFC 9162 §2.1.4: the old tree's last, lone leaf is a subtree of the proof).
        let consistency = try f.store.read { txn in
            try f.ledger.tree.consistencyProof(oldSize: transfer.index + 1, newSize: try f.ledger.size(in: txn), in: txn)
        }
        #expect(consistency.contains(leaf))
        // The search itself is sound: with the salt (what a party to the entry sees) it finds 237.
        let withSalt = try LedgerEntry(time: MarketFixture.now, actor: .account(f.bob),
                                       body: .creditTransfer(.init(from: f.bob, to: dave, amount: try Credits(237))), salt: transfer.entry.salt)
        #expect(TreeHash.leaf(try withSalt.encoded()) == leaf)

        // A store written before salts: the same attack on a version-1 entry succeeds, which
        // is what the finding observed — and shows this test can fail.
        try await alignToPair(f)
        let old = LedgerEntry(time: MarketFixture.now, actor: .account(f.bob),
                              body: .creditTransfer(.init(from: f.bob, to: dave, amount: try Credits(237))), salt: nil)
        let projection = Projection(tables: f.store.tables)
        let ledger = f.ledger
        let oldIndex = try await f.store.write { txn in try projection.append(old, to: ledger, in: txn) }
        #expect(String(decoding: try f.store.read { try f.ledger.entry(at: oldIndex, in: $0) }, as: UTF8.self).hasSuffix(#""v":1}"#))
        let oldLeaf = try await neighbourLeafFromCarolsReceipt(f, after: oldIndex)
        #expect(try attack.recover(leafHash: oldLeaf) == 237)

        // Both formats side by side still verify and replay.
        _ = try LedgerAudit.verify(store: f.store)
        _ = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
        #expect(try f.balance(dave) == 474)
    }

    @Test func versionOneEntriesStillDecodeAndVersionTwoEntriesWithoutAGoodSaltAreRefused() throws {
        let v1 = #"{"actor":"bob@gw1.example","amount":237,"from":"bob@gw1.example","time":"2026-11-22T10:00:00Z","to":"dave@gw1.example","type":"credit.transfer","v":1}"#
        let entry = try LedgerEntry(decoding: Array(v1.utf8))
        #expect(entry.salt == nil && entry.version == 1)
        #expect(try entry.encoded() == Array(v1.utf8))
        let salt = String(repeating: "ab", count: 16)
        let v2 = v1.replacingOccurrences(of: #""time""#, with: #""salt":"\#(salt)","time""#).replacingOccurrences(of: #""v":1"#, with: #""v":2"#)
        let salted = try LedgerEntry(decoding: Array(v2.utf8))
        #expect(salted.version == 2 && salted.salt?.hex == salt)
        #expect(try salted.encoded() == Array(v2.utf8))
        for bad in [
            v1.replacingOccurrences(of: #""v":1"#, with: #""v":2"#),                                     // v2 without a salt
            v2.replacingOccurrences(of: salt, with: String(repeating: "ab", count: 15)),                 // 120 bits
            v2.replacingOccurrences(of: salt, with: String(repeating: "AB", count: 16)),                 // not canonical hex
            v2.replacingOccurrences(of: #""v":2"#, with: #""v":1"#),                                     // v1 with a salt
            v2.replacingOccurrences(of: #""v":2"#, with: #""v":3"#),
        ] {
            #expect(throws: EntryCodingError.self, "\(bad)") { try LedgerEntry(decoding: Array(bad.utf8)) }
        }
    }

    @Test func newEntriesGetADifferentSaltEachTime() throws {
        let body = LedgerEntry.Body.creditTransfer(.init(from: try BareJID("a@gw1.example"), to: try BareJID("b@gw1.example"), amount: try Credits(1)))
        let salts = Set((0..<64).map { _ in LedgerEntry(time: MarketFixture.now, actor: .operator, body: body).salt })
        #expect(salts.count == 64 && !salts.contains(nil))
    }
}
