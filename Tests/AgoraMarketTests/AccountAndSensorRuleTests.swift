import AgoraCore
import AgoraMarket
import Testing

@Suite struct AccountAndSensorRuleTests {
    @Test func onlyOperatorsMintAndTheCirculationCeilingHolds() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let before = try f.snapshot()
        await #expect(throws: MarketRefusal.forbidden("")) {
            _ = try await f.market.mint(try Credits(5), to: f.bob, memo: "", actor: .account(f.alice))
        }
        await #expect(throws: MarketRefusal.amountTooLarge("")) {
            _ = try await f.market.mint(Credits.max, to: f.bob, memo: "", actor: .operator)
        }
        await #expect(throws: MarketRefusal.unknownAccount(f.bob)) {
            _ = try await f.market.mint(try Credits(5), to: try BareJID("ghost@gw1.example"), memo: "", actor: .operator)
        }
        #expect(try f.snapshot() == before)
        _ = try await f.market.openAccount(try BareJID("op@gw1.example"), role: .operator, actor: .operator)
        _ = try await f.market.mint(try Credits(5), to: f.bob, memo: "", actor: .account(try BareJID("op@gw1.example")))
        #expect(try f.balance(f.bob) == 105)
    }

    @Test func nonOwnerPriceChangeIsRefusedAndOwnersIsApplied() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let before = try f.snapshot()
        for actor in [LedgerActor.account(f.bob), .operator] {
            do {
                _ = try await f.market.updateSensor(.init(sensor: f.sensor, price: try Credits(1)), actor: actor)
                Issue.record("\(actor) changed the price")
            } catch let refusal as MarketRefusal {
                #expect(refusal.code == .forbidden)
            }
        }
        #expect(try f.snapshot() == before)
        _ = try await f.market.updateSensor(.init(sensor: f.sensor, price: try Credits(1)), actor: .account(f.alice))
        #expect(try f.market.read { try $0.sensor(f.sensor)?.registration.price.value } == 1)
    }

    @Test func transfersMoveOwnCreditsOnlyWithoutOverdraft() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        await #expect(throws: MarketRefusal.forbidden("")) {
            _ = try await f.market.transfer(try Credits(5), from: f.bob, to: f.carol, actor: .account(f.carol))
        }
        await #expect(throws: MarketRefusal.insufficientCredits(f.bob, balance: .zero, needed: .zero)) {
            _ = try await f.market.transfer(try Credits(101), from: f.bob, to: f.carol, actor: .account(f.bob))
        }
        _ = try await f.market.transfer(try Credits(40), from: f.bob, to: f.carol, actor: .account(f.bob))
        #expect(try f.balance(f.bob) == 60)
        #expect(try f.balance(f.carol) == 40)
    }

    @Test func consumersCannotOwnSensorsAndIdsAreUnique() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let registration = LedgerEntry.SensorRegistration(sensor: try SensorID("s2"), owner: f.bob, kind: "noise", name: "", unit: "dB",
                                                          price: try Credits(1), frequency: 0, lat: nil, lon: nil, url: "")
        await #expect(throws: MarketRefusal.forbidden("")) { _ = try await f.market.registerSensor(registration, actor: .operator) }
        var duplicate = registration
        duplicate.sensor = f.sensor
        duplicate.owner = f.alice
        await #expect(throws: MarketRefusal.sensorExists(f.sensor)) { _ = try await f.market.registerSensor(duplicate, actor: .operator) }
        var badURL = registration
        badURL.owner = f.alice
        badURL.url = "javascript:alert(1)"
        await #expect(throws: MarketRefusal.invalid(.outOfRange("", reason: ""))) { _ = try await f.market.registerSensor(badURL, actor: .operator) }
    }

    @Test func readAccessFollowsOwnershipRoleAndPurchasedWindows() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let op = try BareJID("op@gw1.example")
        _ = try await f.market.openAccount(op, role: .operator, actor: .operator)
        let bought = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                                 to: f.time("2026-11-22T12:00:00Z"), requestID: "w", actor: .operator)
        func decision(_ reader: BareJID, _ time: String) throws -> AccessDecision {
            try f.store.read { try AccessPolicy.mayRead(reader, sensor: f.sensor, at: f.time(time), in: $0, tables: f.store.tables) }
        }
        #expect(try decision(f.alice, "2020-01-01T00:00:00Z") == .owner)
        #expect(try decision(op, "2020-01-01T00:00:00Z") == .operator)
        #expect(try decision(f.bob, "2026-11-22T10:00:00Z") == .purchased(purchaseID: bought.record.purchase.id))
        #expect(try decision(f.bob, "2026-11-22T11:59:59Z").isAllowed)
        #expect(try !decision(f.bob, "2026-11-22T12:00:00Z").isAllowed) // window end is exclusive
        #expect(try !decision(f.bob, "2026-11-22T09:59:59Z").isAllowed)
        #expect(try !decision(f.carol, "2026-11-22T11:00:00Z").isAllowed)
    }

    @Test func twoPurchasesStartingAtTheSameSecondBothGrantTheirWindows() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let start = f.time("2026-11-22T10:00:00Z")
        _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: start, to: f.time("2026-11-22T15:00:00Z"), requestID: "long", actor: .account(f.bob))
        _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: start, to: f.time("2026-11-22T11:00:00Z"), requestID: "short", actor: .account(f.bob))
        let late = try f.store.read { try AccessPolicy.mayRead(f.bob, sensor: f.sensor, at: f.time("2026-11-22T14:00:00Z"), in: $0, tables: f.store.tables) }
        #expect(late.isAllowed, "the 5-hour purchase still covers 14:00 after a 1-hour one with the same start")
        _ = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
    }

    @Test func locationUpdatesKeepLatitudeAndLongitudeTogether() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        await #expect(throws: MarketRefusal.invalid(.outOfRange("", reason: ""))) {
            _ = try await f.market.updateSensor(.init(sensor: f.sensor, lat: try .latitude(48.1)), actor: .account(f.alice))
        }
        _ = try await f.market.updateSensor(.init(sensor: f.sensor, lat: try .latitude(48.1), lon: try .longitude(2.3)), actor: .account(f.alice))
        _ = try await f.market.updateSensor(.init(sensor: f.sensor, lat: try .latitude(48.2)), actor: .account(f.alice))
    }
}
