import AgoraTestSupport
import AgoraCore
import Crypto
import AgoraLedger
import AgoraMarket
import AgoraStore
import Testing

@Suite struct InvariantAndReplayTests {
    /// 10^4 random operations — valid and invalid, from many actors, concurrently — keep
    /// the sum of all balances equal to the credits ever minted, and replay rebuilds the
    /// tables byte for byte.
    @Test func sumOfBalancesEqualsMintedOverTenThousandRandomOperations() async throws {
        let f = try await MarketFixture(window: .microseconds(200))
        defer { f.close() }
        let people = try (0..<12).map { try BareJID("user\($0)@gw1.example") }
        for (i, jid) in people.enumerated() {
            _ = try await f.market.openAccount(jid, role: i % 3 == 0 ? .owner : .consumer, actor: .operator)
        }
        let sensors = try (0..<6).map { try SensorID("s\($0)") }
        for (i, id) in sensors.enumerated() {
            _ = try await f.market.registerSensor(.init(sensor: id, owner: people[(i % 4) * 3], kind: "k", name: "", unit: "",
                                                        price: try Credits(UInt64(i + 1)), frequency: 0, lat: nil, lon: nil, url: ""), actor: .operator)
        }
        var rng = SplitMix(seed: 0xA60A)
        var accepted = 0, refused = 0
        let rounds = 10_000 / 50
        for _ in 0..<rounds {
            let operations: [@Sendable () async throws -> Void] = (0..<50).map { _ in
                let a = people[Int(rng.next() % 12)], b = people[Int(rng.next() % 12)]
                let sensor = sensors[Int(rng.next() % 6)]
                let amount = rng.next() % 60
                let start = Int64(rng.next() % 200) * 1800 + 1_795_000_000
                let length = Int64(rng.next() % 20) * 900 - 900
                let request = "r\(rng.next() % 400)"
                let satisfaction = Int(rng.next() % 1001), weight = Int(rng.next() % 6) // 0: out of scale, refused
                switch rng.next() % 7 {
                case 0:
                    let actor: LedgerActor = rng.next() % 4 == 0 ? .account(a) : .operator
                    return { _ = try await f.market.mint(try Credits(amount), to: b, memo: "", actor: actor) }
                case 1:
                    return { _ = try await f.market.transfer(try Credits(amount), from: a, to: b, actor: .account(a)) }
                case 2:
                    return { _ = try await f.market.freezeSensor(sensor, reason: "x", actor: .operator) }
                case 3:
                    return { _ = try await f.market.unfreezeSensor(sensor, actor: .operator) }
                case 4:
                    // A rating (or its revision) of a's purchase made with `request`, when it exists, by a or by b.
                    let purchase = Hex.encode(SHA256.hash(data: Array("agora-purchase\u{0}\(a)\u{0}\(request)".utf8)).prefix(16))
                    let rater: LedgerActor = rng.next() % 4 == 0 ? .account(b) : .account(a)
                    return { _ = try await f.market.rate(purchase: purchase, satisfaction: satisfaction, weight: weight, comment: "",
                                                         actor: rater, policy: TrustPolicy()) }
                default:
                    return {
                        _ = try await f.market.purchase(buyer: a, sensor: sensor, from: try Timestamp(seconds: start),
                                                        to: try Timestamp(seconds: start + length), requestID: request, actor: .account(a))
                    }
                }
            }
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for operation in operations {
                    group.addTask { do { try await operation(); return true } catch { return false } }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            accepted += outcomes.filter { $0 }.count
            refused += outcomes.filter { !$0 }.count
            let (minted, sum) = try f.market.read { (try $0.totalMinted().value, try $0.sumOfBalances()) }
            #expect(minted == sum)
            if minted != sum { return }
        }
        #expect(accepted > 1000)
        #expect(refused > 1000)
        let report = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
        #expect(report.tablesCompared.count == f.store.tables.derivedFromLedger.count + 1) // and the derived counters in meta
        #expect(try f.store.read { try $0.count(f.store.tables.ratings) } > 100, "ratings were made and replayed")
        _ = try LedgerAudit.verify(store: f.store)
    }

    @Test func replayNamesATableRowNoEntryExplains() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        _ = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
        // Credits appear in a balance without a ledger entry.
        try await f.store.write { txn in
            try txn.put(f.store.tables.balances, StoreKey.text(f.carol.description), StoreKey.u64(1_000))
        }
        do {
            _ = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
            Issue.record("replay accepted a forged balance")
        } catch let mismatch as ReplayMismatch {
            #expect(mismatch.description.contains("balances"))
            #expect(mismatch.description.contains("carol@gw1.example"))
        }
    }
}
