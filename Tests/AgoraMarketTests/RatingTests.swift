import AgoraCore
import AgoraMarket
import AgoraTrust
import Testing

/// Ratings on the ledger (issue 23): who may rate, once and one revision, and what the
/// trust model reads back.
@Suite struct RatingTests {
    let policy = TrustPolicy()

    func buy(_ f: MarketFixture, _ buyer: BareJID, hour: Int = 10, request: String) async throws -> String {
        try await f.market.purchase(buyer: buyer, sensor: f.sensor, from: f.time("2026-11-20T\(hour):00:00Z"),
                                    to: f.time("2026-11-20T\(hour + 1):00:00Z"), requestID: request, actor: .account(buyer)).record.purchase.id
    }

    func market(_ f: MarketFixture, at time: String) -> Market {
        let now = f.time(time)
        return Market(store: f.store, ledger: f.ledger, clock: { now })
    }

    @Test func theBuyerRatesItsPurchaseOnceAndTheEntryNamesTheSensorAndItsOwner() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let purchase = try await buy(f, f.bob, request: "r1")
        let accepted = try await f.market.rate(purchase: purchase, satisfaction: 875, weight: 3, comment: "gaps at night",
                                               actor: .account(f.bob), policy: policy)
        guard case .rating(let rating) = accepted.entry.body else { Issue.record("not a rating entry"); return }
        #expect(rating.sensor == f.sensor && rating.owner == f.alice && rating.rater == f.bob && rating.revision == 0)
        let stored = try f.market.read { try $0.ratings(ofSensor: f.sensor) }
        #expect(stored == [RatingRecord(ledgerIndex: accepted.index, firstRated: MarketFixture.now.seconds, satisfaction: 875,
                                        weight: 3, revision: 0, rater: f.bob)])
        #expect(try f.market.read { try $0.ratings(ofOwner: f.alice) } == stored)
    }

    @Test func nobodyButTheBuyerMayRateAPurchaseAndAStrangerLearnsNothingOfIt() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let purchase = try await buy(f, f.bob, request: "r1")
        let before = try f.snapshot()
        var reasons: [String] = []
        for (id, actor) in [(purchase, LedgerActor.account(f.carol)), (purchase, .account(f.alice)), (purchase, .operator),
                            (String(repeating: "0", count: 32), .account(f.carol))] {
            do {
                _ = try await f.market.rate(purchase: id, satisfaction: 0, weight: 1, comment: "", actor: actor, policy: policy)
                Issue.record("\(actor) rated purchase \(id)")
            } catch let refusal as MarketRefusal {
                #expect(refusal.code == .forbidden)
                reasons.append(refusal.description.replacingOccurrences(of: id, with: "ID"))
            }
        }
        #expect(Set(reasons).count == 1, "another's purchase and no purchase are refused alike: \(reasons)")
        #expect(try f.snapshot() == before)
    }

    @Test func aRatingIsRevisedOnceWithinThePeriodAndThenIsFinal() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let purchase = try await buy(f, f.bob, request: "r1")
        let first = try await f.market.rate(purchase: purchase, satisfaction: 300, weight: 2, comment: "", actor: .account(f.bob), policy: policy)
        let later = market(f, at: "2026-11-25T10:00:00Z")
        let revised = try await later.rate(purchase: purchase, satisfaction: 900, weight: 2, comment: "fixed", actor: .account(f.bob), policy: policy)
        guard case .rating(let revision) = revised.entry.body else { Issue.record("not a rating"); return }
        #expect(revision.revision == 1 && revised.index > first.index)
        // The revision supersedes: one rating in force, the new figures, the first time kept.
        let stored = try f.market.read { try $0.ratings(ofSensor: f.sensor) }
        #expect(stored.count == 1 && stored[0].satisfaction == 900 && stored[0].ledgerIndex == revised.index)
        #expect(stored[0].firstRated == MarketFixture.now.seconds)
        let before = try f.snapshot()
        await #expect(throws: MarketRefusal.self) {
            _ = try await later.rate(purchase: purchase, satisfaction: 1000, weight: 2, comment: "", actor: .account(f.bob), policy: policy)
        }
        #expect(try f.snapshot() == before)
    }

    @Test func aRevisionAfterThePeriodIsRefused() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let purchase = try await buy(f, f.bob, request: "r1")
        _ = try await f.market.rate(purchase: purchase, satisfaction: 300, weight: 2, comment: "", actor: .account(f.bob), policy: policy)
        let before = try f.snapshot()
        do {
            _ = try await market(f, at: "2026-12-01T10:00:00Z").rate(purchase: purchase, satisfaction: 900, weight: 2, comment: "",
                                                                     actor: .account(f.bob), policy: policy)
            Issue.record("revised after the period")
        } catch let refusal as MarketRefusal {
            #expect(refusal.code == .forbidden && refusal.description.contains("2026-11-29T10:00:00Z"))
        }
        #expect(try f.snapshot() == before)
    }

    @Test func figuresOutsideTheScaleAndControlCharactersAreRefusedWithTheirReason() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let purchase = try await buy(f, f.bob, request: "r1")
        let before = try f.snapshot()
        for (s, w, comment, words) in [(1001, 1, "", "satisfaction"), (-1, 1, "", "satisfaction"), (500, 0, "", "weight"),
                                        (500, 6, "", "weight"), (500, 1, "a\u{7}b", "control"),
                                        (500, 1, String(repeating: "é", count: 141), "280 bytes")] {
            do {
                _ = try await f.market.rate(purchase: purchase, satisfaction: s, weight: w, comment: comment, actor: .account(f.bob), policy: policy)
                Issue.record("accepted s=\(s) w=\(w)")
            } catch let refusal as MarketRefusal {
                #expect(refusal.code == .invalidInput && refusal.description.contains(words), "\(refusal)")
            }
        }
        #expect(try f.snapshot() == before)
    }

    @Test func replayRebuildsTheRatingsFromTheLedger() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let p1 = try await buy(f, f.bob, hour: 10, request: "r1")
        let p2 = try await buy(f, f.bob, hour: 12, request: "r2")
        _ = try await f.market.rate(purchase: p1, satisfaction: 100, weight: 1, comment: "", actor: .account(f.bob), policy: policy)
        _ = try await f.market.rate(purchase: p2, satisfaction: 700, weight: 4, comment: "", actor: .account(f.bob), policy: policy)
        _ = try await f.market.rate(purchase: p1, satisfaction: 600, weight: 1, comment: "", actor: .account(f.bob), policy: policy)
        let report = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
        #expect(report.tablesCompared.contains("ratings"))
    }

    @Test func sockPuppetsOpenedToFarmRatingsWeighByTheirAccountsAge() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        // bob's account is a month old at the ratings' time; ten puppets are a day old.
        let now = "2026-12-22T10:00:00Z"
        let puppeteer = market(f, at: "2026-12-21T10:00:00Z")
        var puppets: [BareJID] = []
        for i in 0..<10 {
            let puppet = try BareJID("puppet\(i)@gw1.example")
            _ = try await puppeteer.openAccount(puppet, role: .consumer, actor: .operator)
            _ = try await puppeteer.mint(try Credits(10), to: puppet, memo: "", actor: .operator)
            puppets.append(puppet)
        }
        let rating = market(f, at: now)
        let honest = try await buy(f, f.bob, request: "honest")
        _ = try await rating.rate(purchase: honest, satisfaction: 1000, weight: 1, comment: "", actor: .account(f.bob), policy: policy)
        for (i, puppet) in puppets.enumerated() {
            let id = try await buy(f, puppet, hour: 10 + i % 10, request: "p\(i)")
            _ = try await rating.rate(purchase: id, satisfaction: 0, weight: 5, comment: "", actor: .account(puppet), policy: policy)
        }
        let scores = try f.market.read { try $0.scores(ofSensor: f.sensor, for: f.carol, policy: policy, now: f.time(now)) }
        // bob: 30 days old → weight 1 × 1; each puppet: 5 × 1/30. The model on those weights:
        let expected = TrustFigures([Interaction(satisfaction: 1, weight: 1, time: 0)]
                                        + Array(repeating: Interaction(satisfaction: 0, weight: 5.0 / 30, time: 1), count: 10),
                                    fading: .lastN(50), now: 1)
        #expect(abs(scores.reputation.value - expected.value) < 1e-9)
        #expect(abs(scores.reputation.totalWeight - (1 + 50.0 / 30)) < 1e-9)
        #expect(scores.ratings == 11 && scores.purchases == 11 && !scores.newcomer)
    }

    @Test func theSensorsNewestSealedReliabilityIsItsROfTheScoresAndReplayKeepsIt() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        #expect(try f.market.read { try $0.scores(ofSensor: f.sensor, for: f.bob, policy: policy, now: MarketFixture.now) }.reliability == nil)
        for thousandths in [400, 925] {
            _ = try await f.market.sealReliability(.init(sensor: f.sensor, until: MarketFixture.now, reliability: thousandths,
                                                         windows: [[3600, 3600, 3500, 1, 100, 100, 3500, 0, 0, 0]]))
        }
        let weights = try DependabilityWeights(trust: 0, reputation: 0, reliability: 1, popularity: 0)
        let scores = try f.market.read { try $0.scores(ofSensor: f.sensor, for: f.bob, policy: policy, weights: weights, now: MarketFixture.now) }
        #expect(scores.reliability == 0.925 && scores.dependability.value == 0.925)
        #expect(try f.market.read { try $0.scores(ofOwner: f.alice, for: f.bob, policy: policy, now: MarketFixture.now) }.reliability == 0.925)
        await #expect(throws: MarketRefusal.self) {
            _ = try await f.market.sealReliability(.init(sensor: f.sensor, until: MarketFixture.now, reliability: 1001, windows: []))
        }
        let report = try await Replay.verify(store: f.store, scratchDirectory: f.dir.path)
        #expect(report.tablesCompared.contains("ratings"))
    }

    @Test func blacklistingNeedsDifferentRatersAndIsTheSameForEveryViewer() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let policy = TrustPolicy(raterMaturity: 0, blacklistBelow: 0.3, blacklistAfterRatings: 2)
        _ = try await f.market.mint(try Credits(100), to: f.carol, memo: "", actor: .operator)
        // One account, five bad ratings: not enough to sink the sensor.
        for hour in 10..<15 {
            let id = try await buy(f, f.bob, hour: hour, request: "b\(hour)")
            _ = try await f.market.rate(purchase: id, satisfaction: 0, weight: 5, comment: "", actor: .account(f.bob), policy: policy)
        }
        func blacklisted(for viewer: BareJID) throws -> Bool {
            try f.market.read { try $0.scores(ofSensor: f.sensor, for: viewer, policy: policy, now: MarketFixture.now).blacklisted }
        }
        #expect(try !blacklisted(for: f.alice) && !blacklisted(for: f.bob))
        // A second account agrees: now it is, for everyone, the raters included.
        let id = try await buy(f, f.carol, request: "c")
        _ = try await f.market.rate(purchase: id, satisfaction: 100, weight: 5, comment: "", actor: .account(f.carol), policy: policy)
        #expect(try blacklisted(for: f.alice) && blacklisted(for: f.bob) && blacklisted(for: f.carol))
    }

    @Test func aViewersOwnRatingsAreItsTrustAndEveryoneElsesAreTheReputation() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        _ = try await f.market.mint(try Credits(100), to: f.carol, memo: "", actor: .operator)
        let p1 = try await buy(f, f.bob, request: "b")
        let p2 = try await buy(f, f.carol, request: "c")
        let later = market(f, at: "2027-01-01T00:00:00Z") // everyone's account is mature by then
        _ = try await later.rate(purchase: p1, satisfaction: 200, weight: 2, comment: "", actor: .account(f.bob), policy: policy)
        _ = try await later.rate(purchase: p2, satisfaction: 800, weight: 2, comment: "", actor: .account(f.carol), policy: policy)
        let weights = try DependabilityWeights(trust: 1, reputation: 0, reliability: 0, popularity: 0)
        let forBob = try f.market.read {
            try $0.scores(ofSensor: f.sensor, for: f.bob, policy: TrustPolicy(fullTrustAfter: 1), weights: weights, now: f.time("2027-01-01T00:00:00Z"))
        }
        #expect(forBob.trust.value == 0.2 && forBob.reputation.value == 0.8)
        #expect(forBob.dependability.value == 0.2, "all weight on T: D is T")
        #expect(abs(forBob.popularity - 2.0 / 12) < 1e-12)
    }
}

/// The cache the gateway scores through gives what a fresh evaluation gives, and follows
/// every change of a sensor's ratings and purchases.
@Suite struct TrustScoreCacheTests {
    @Test func cachedScoresEqualFreshOnesThroughRatingsRevisionsAndPurchases() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        let policy = TrustPolicy(raterMaturity: 0)
        _ = try await f.market.mint(try Credits(100), to: f.carol, memo: "", actor: .operator)
        func check(_ step: String) throws {
            for viewer in [f.bob, f.carol, f.alice] {
                let (fresh, cached) = try f.market.read { state in
                    (try state.scores(ofSensor: f.sensor, for: viewer, policy: policy, now: MarketFixture.now),
                     try state.scores(ofSensor: f.sensor, for: viewer, policy: policy, now: MarketFixture.now, cache: f.market.trustCache))
                }
                #expect(fresh == cached, "\(step), viewer \(viewer)")
            }
        }
        try check("no ratings")
        let p1 = try await f.market.purchase(buyer: f.bob, sensor: f.sensor, from: f.time("2026-11-20T10:00:00Z"), to: f.time("2026-11-20T11:00:00Z"),
                                             requestID: "1", actor: .account(f.bob)).record.purchase.id
        try check("a purchase")
        _ = try await f.market.rate(purchase: p1, satisfaction: 300, weight: 2, comment: "", actor: .account(f.bob), policy: policy)
        try check("bob rated")
        let p2 = try await f.market.purchase(buyer: f.carol, sensor: f.sensor, from: f.time("2026-11-20T10:00:00Z"), to: f.time("2026-11-20T11:00:00Z"),
                                             requestID: "2", actor: .account(f.carol)).record.purchase.id
        _ = try await f.market.rate(purchase: p2, satisfaction: 900, weight: 5, comment: "", actor: .account(f.carol), policy: policy)
        try check("carol rated")
        _ = try await f.market.rate(purchase: p1, satisfaction: 700, weight: 2, comment: "", actor: .account(f.bob), policy: policy)
        try check("bob revised")
        _ = try await f.market.sealReliability(.init(sensor: f.sensor, until: MarketFixture.now, reliability: 640, windows: []))
        try check("reliability sealed")
    }
}
