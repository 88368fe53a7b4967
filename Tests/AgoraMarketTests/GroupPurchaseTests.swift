import AgoraCore
import AgoraMarket
import AgoraStore
import Testing

/// Group purchases: shares go into an escrow that is part of the balances (minted = Σ
/// balances at every step), the last share pays the owner and lets every member read the
/// window, a missed deadline refunds every share; the ledger replays to the same tables.
@Suite struct GroupPurchaseTests {
    func invariantHolds(_ f: MarketFixture) throws -> Bool {
        try f.market.read { try $0.totalMinted().value == $0.sumOfBalances() }
    }

    func setUp() async throws -> (MarketFixture, BareJID) {
        let f = try await MarketFixture()
        let dave = try BareJID("dave@gw1.example")
        _ = try await f.market.openAccount(dave, role: .consumer, actor: .operator)
        _ = try await f.market.mint(try Credits(100), to: f.carol, memo: "start", actor: .operator)
        _ = try await f.market.mint(try Credits(100), to: dave, memo: "start", actor: .operator)
        return (f, dave)
    }

    @Test func threeMembersPayTheirSharesAndAllReadTheWindow() async throws {
        let (f, dave) = try await setUp()
        defer { f.close() }
        let (from, to) = (f.time("2026-11-22T10:00:00Z"), f.time("2026-11-22T13:00:00Z"))  // 3 h at 10: 30 credits
        let opened = try await f.market.openGroupPurchase(organizer: f.alice, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T11:00:00Z"),
                                                          members: [f.bob, f.carol, dave], requestID: "g1", actor: .account(f.alice))
        let id = opened.record.open.id
        #expect(opened.record.open.amount.value == 30 && opened.record.open.shares.shares.map(\.amount.value) == [10, 10, 10])
        let ownerBefore = try f.balance(f.alice)
        _ = try await f.market.payGroupShare(id, member: f.bob, actor: .account(f.bob))
        #expect(try f.balance(f.bob) == 90 && invariantHolds(f))
        // Nobody reads before the purchase is complete.
        let early = try f.store.read { try AccessPolicy.mayRead(f.bob, sensor: f.sensor, at: from, in: $0, tables: f.store.tables) }
        #expect(!early.isAllowed)
        let again = try await f.market.payGroupShare(id, member: f.bob, actor: .account(f.bob))
        let bobAfter = try f.balance(f.bob)
        #expect(again.replayed && bobAfter == 90)
        _ = try await f.market.payGroupShare(id, member: f.carol, actor: .account(f.carol))
        let last = try await f.market.payGroupShare(id, member: dave, actor: .account(dave))
        #expect(last.completeIndex != nil && last.record.state == .complete)
        let ownerAfter = try f.balance(f.alice)
        #expect(try ownerAfter == ownerBefore + 30 && invariantHolds(f))
        for member in [f.bob, f.carol, dave] {
            let decision = try f.store.read { try AccessPolicy.mayRead(member, sensor: f.sensor, from: from, to: to, in: $0, tables: f.store.tables) }
            #expect(decision.isAllowed, "\(member) cannot read the window it paid for")
        }
        let report = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
        #expect(report.entries > 0)
    }

    @Test func aMissedDeadlineRefundsEveryShareAndGrantsNothing() async throws {
        let (f, dave) = try await setUp()
        defer { f.close() }
        let (from, to) = (f.time("2026-11-22T10:00:00Z"), f.time("2026-11-22T12:00:00Z"))
        let opened = try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T10:30:00Z"),
                                                          members: [f.bob, f.carol, dave], requestID: "g2", actor: .account(f.bob))
        let id = opened.record.open.id
        #expect(opened.record.open.shares.shares.map(\.amount.value) == [7, 7, 6])
        _ = try await f.market.payGroupShare(id, member: f.bob, actor: .account(f.bob))
        _ = try await f.market.payGroupShare(id, member: f.carol, actor: .account(f.carol))
        #expect(try await f.market.refundExpiredGroups().isEmpty)  // not yet
        let later = Market(store: f.store, ledger: f.ledger, clock: { try! Timestamp(rfc3339: "2026-11-22T10:30:00Z") })
        await #expect(throws: MarketRefusal.self) { try await later.payGroupShare(id, member: dave, actor: .account(dave)) }
        #expect(try await later.refundExpiredGroups() == [id])
        #expect(try f.balance(f.bob) == 100 && f.balance(f.carol) == 100 && f.balance(dave) == 100 && invariantHolds(f))
        #expect(try later.read { try $0.group(id)?.state } == .refunded)
        let decision = try f.store.read { try AccessPolicy.mayRead(f.bob, sensor: f.sensor, at: from, in: $0, tables: f.store.tables) }
        #expect(!decision.isAllowed)
        _ = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
    }

    @Test func badTermsAndOutsidersAreRefusedAndChangeNothing() async throws {
        let (f, dave) = try await setUp()
        defer { f.close() }
        let (from, to) = (f.time("2026-11-22T10:00:00Z"), f.time("2026-11-22T11:00:00Z"))
        let before = try f.snapshot()
        // The sensor's owner cannot be a member; shares must add up; the deadline within a week; two members at least.
        await #expect(throws: MarketRefusal.self) {
            try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T10:10:00Z"),
                                                 members: [f.bob, f.alice], requestID: "x1", actor: .account(f.bob))
        }
        await #expect(throws: MarketRefusal.self) {
            try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T10:10:00Z"),
                                                 members: [f.bob, f.carol], shares: [try Credits(5), try Credits(4)], requestID: "x2", actor: .account(f.bob))
        }
        await #expect(throws: MarketRefusal.self) {
            try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-12-01T10:10:00Z"),
                                                 members: [f.bob, f.carol], requestID: "x3", actor: .account(f.bob))
        }
        await #expect(throws: MarketRefusal.self) {
            try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T10:10:00Z"),
                                                 members: [f.bob], requestID: "x4", actor: .account(f.bob))
        }
        // Someone else cannot open one in another's name.
        await #expect(throws: MarketRefusal.self) {
            try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T10:10:00Z"),
                                                 members: [f.bob, f.carol], requestID: "x5", actor: .account(f.carol))
        }
        #expect(try f.snapshot() == before)
        let opened = try await f.market.openGroupPurchase(organizer: f.bob, sensor: f.sensor, from: from, to: to, deadline: f.time("2026-11-22T10:10:00Z"),
                                                          members: [f.bob, f.carol], requestID: "ok", actor: .account(f.bob))
        // A non-member cannot pay in, nor pay for a member.
        await #expect(throws: MarketRefusal.self) { try await f.market.payGroupShare(opened.record.open.id, member: dave, actor: .account(dave)) }
        await #expect(throws: MarketRefusal.self) { try await f.market.payGroupShare(opened.record.open.id, member: f.carol, actor: .account(dave)) }
        #expect(try f.balance(dave) == 100 && f.balance(f.carol) == 100)
    }
}
