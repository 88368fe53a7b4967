import AgoraCore
import AgoraMarket
import Testing

@Suite struct PurchaseTests {
    @Test func purchaseChargesPriceTimesStartedHoursToTheOwner() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let result = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                                 to: f.time("2026-11-22T12:00:01Z"), requestID: "r1", actor: .account(f.bob))
        #expect(result.record.purchase.amount.value == 30) // 2 h 1 s → 3 started hours × 10
        #expect(!result.replayed)
        #expect(try f.balance(f.bob) == 70)
        #expect(try f.balance(f.alice) == 30)
    }

    @Test func aPurchaseThatAsksToSealCommitsOnceAndItsReceiptNeedsNoSecondCommit() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let before = f.store.writer.statistics
        let result = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                                 to: f.time("2026-11-22T11:00:00Z"), requestID: "sealed", actor: .account(f.bob), sealing: true)
        let purchased = f.store.writer.statistics
        #expect(purchased.batches - before.batches == 1)
        #expect(purchased.sealedBatches - before.sealedBatches == 1)
        let receipt = try await f.ledger.sealedReceipt(for: result.record.ledgerIndex, through: f.store)
        #expect(f.store.writer.statistics.batches == purchased.batches, "the receipt was read, not sealed in a second commit")
        #expect(receipt.index == result.record.ledgerIndex && receipt.treeSize > receipt.index)
    }

    @Test func overdraftIsRefusedAndChangesNothing() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let before = try f.snapshot()
        await #expect(throws: MarketRefusal.self) {
            // 11 hours × 10 = 110 > 100
            _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T00:00:00Z"),
                                            to: f.time("2026-11-22T11:00:00Z"), requestID: "big", actor: .account(f.bob))
        }
        do {
            _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T00:00:00Z"),
                                            to: f.time("2026-11-22T11:00:00Z"), requestID: "big", actor: .account(f.bob))
        } catch let refusal as MarketRefusal {
            #expect(refusal.code == .insufficientCredits)
            #expect(refusal.description.contains("110"))
        }
        #expect(try f.snapshot() == before)
    }

    @Test func repeatedRequestIDReturnsTheFirstPurchaseAndChargesOnce() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let from = f.time("2026-11-22T10:00:00Z"), to = f.time("2026-11-22T11:00:00Z")
        let first = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: to, requestID: "same", actor: .account(f.bob))
        let size = try f.ledgerSize
        let second = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: to, requestID: "same", actor: .account(f.bob))
        #expect(second.replayed)
        #expect(second.record == first.record)
        #expect(try f.balance(f.bob) == 90)
        #expect(try f.ledgerSize == size)
        // Concurrent repeats in one batch still charge once.
        let results = try await withThrowingTaskGroup(of: Market.PurchaseResult.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: f.time("2026-11-22T12:00:00Z"),
                                                requestID: "burst", actor: .account(f.bob))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { !$0.replayed }.count == 1)
        #expect(Set(results.map(\.record.purchase.id)).count == 1)
        #expect(try f.balance(f.bob) == 70)
    }

    @Test func reusingARequestIDForOtherTermsIsRefused() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                        to: f.time("2026-11-22T11:00:00Z"), requestID: "r", actor: .account(f.bob))
        let before = try f.snapshot()
        await #expect(throws: MarketRefusal.requestConflict("r")) {
            _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                            to: f.time("2026-11-22T13:00:00Z"), requestID: "r", actor: .account(f.bob))
        }
        #expect(try f.snapshot() == before)
    }

    @Test func frozenSensorsUnknownSensorsAndBadWindowsAreRefused() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let from = f.time("2026-11-22T10:00:00Z"), to = f.time("2026-11-22T11:00:00Z")
        _ = try await f.market.freezeSensor(f.sensor, reason: "tampered housing", actor: .operator)
        let before = try f.snapshot()
        let attempts: [(MarketRefusal.Code, () async throws -> Void)] = [
            (.sensorFrozen, { _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: to, requestID: nil, actor: .account(f.bob)) }),
            (.unknownSensor, { _ = try await f.market.purchase(buyer: f.bob, sensor: try SensorID("nope"), from: from, to: to, requestID: nil, actor: .account(f.bob)) }),
            (.invalidWindow, { _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: to, to: from, requestID: nil, actor: .account(f.bob)) }),
            (.invalidWindow, { _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: from, requestID: nil, actor: .account(f.bob)) }),
            (.forbidden, { _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: to, requestID: nil, actor: .account(f.carol)) }),
            (.invalidInput, { _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: to, requestID: "has space", actor: .account(f.bob)) }),
        ]
        for (code, attempt) in attempts {
            do {
                try await attempt()
                Issue.record("expected \(code)")
            } catch let refusal as MarketRefusal {
                #expect(refusal.code == code, "\(refusal)")
            }
        }
        #expect(try f.snapshot() == before)
        _ = try await f.market.unfreezeSensor(f.sensor, actor: .operator)
        _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: from, to: to, requestID: nil, actor: .account(f.bob))
    }
}

@Suite struct PurchasePrivacyTests {
    @Test func anotherAccountCannotReplayABuyersRequestIDToLearnThePurchase() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                        to: f.time("2026-11-22T11:00:00Z"), requestID: "secret", actor: .account(f.bob))
        await #expect(throws: MarketRefusal.forbidden("")) {
            _ = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-22T10:00:00Z"),
                                            to: f.time("2026-11-22T11:00:00Z"), requestID: "secret", actor: .account(f.carol))
        }
    }
}
