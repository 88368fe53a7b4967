import AgoraApp
import AgoraCore
import AgoraMarket
@testable import AgoraServices
@testable import AgoraXMPP
import AgoraTestSupport
import Testing

/// The trust model where buyers choose (issue 23): XEP-0347 results carry the requester's
/// scores as meta tags, filter and sort by them, keep places for newcomers, and leave
/// blacklisted sensors out.
@Suite struct TrustSearchTests {
    /// Raters count at once (no maturity), one rating makes a service established and, when
    /// bad, blacklisted; every second place of a sorted search is a newcomer's.
    static let policy = TrustPolicy(raterMaturity: 0, newcomerBelowRatings: 1, newcomerShare: 0.5, blacklistBelow: 0.3, blacklistAfterRatings: 1)

    static func rate(_ harness: ServiceHarness, _ sensor: String, _ satisfaction: Int, request: String) async throws {
        let market = harness.gateway.market
        let carol = ServiceHarness.jid("carol")
        let bought = try await market.purchase(buyer: carol, sensor: try SensorID(sensor), from: try Timestamp(rfc3339: "2026-11-22T08:00:00Z"),
                                               to: try Timestamp(rfc3339: "2026-11-22T09:00:00Z"), requestID: request, actor: .account(carol))
        _ = try await market.rate(purchase: bought.record.purchase.id, satisfaction: satisfaction, weight: 3, comment: "",
                                  actor: .account(carol), policy: policy)
    }

    static func things(_ reply: XMLElement) -> [(id: String, tags: [String: String])] {
        (reply.child("found")?.elements.filter { $0.name == "thing" } ?? []).map { thing in
            var tags: [String: String] = [:]
            for tag in thing.elements { if let name = tag[attribute: "name"], let value = tag[attribute: "value"] { tags[name] = value } }
            return (thing[attribute: "nodeId"] ?? "", tags)
        }
    }

    @Test func aSortedSearchRanksByDependabilityKeepsPlacesForNewcomersAndLeavesTheBlacklistedOut() async throws {
        try await ServiceHarness.with(trust: Self.policy) { harness in
            let market = harness.gateway.market
            for id in ["s-good", "s-bad", "s-new"] {
                _ = try await market.registerSensor(.init(sensor: try SensorID(id), owner: ServiceHarness.jid("bob"), kind: "pm25", name: "", unit: "",
                                                          price: try Credits(1), frequency: 60, lat: nil, lon: nil, url: ""), actor: .operator)
            }
            try await Self.rate(harness, "s-good", 900, request: "g")
            try await Self.rate(harness, "s-bad", 100, request: "b")

            let dave = try await harness.login("dave")
            let sorted = Self.things(try await dave.iq("get", "<search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20' sort='DEPENDABILITY'/>"))
            // s-bad is blacklisted; s-good leads; the second place is a newcomer's (air-1 or s-new).
            #expect(sorted.map(\.id).first == "s-good" && Set(sorted.map(\.id).dropFirst()) == ["air-1", "s-new"], "\(sorted.map(\.id))")
            // Dave rated nothing: his a goes to b; D = 0.6 · 0.9 + 0.1 · P, P = 1 / (1 + 10).
            let good = try #require(sorted.first?.tags)
            #expect(good["REPUTATION"] == "0.9" && good["TRUST"] == "0.0" && good["RATINGS"] == "1.0")
            #expect(abs((Double(good["DEPENDABILITY"] ?? "") ?? 0) - (0.6 * 0.9 + 0.1 / 11)) < 1e-9, "\(good)")

            let dependable = Self.things(try await dave.iq("get", """
                <search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20'><numGte name='DEPENDABILITY' value='0.5'/></search>
                """))
            #expect(dependable.map(\.id) == ["s-good"])

            // The owner still finds its blacklisted sensor (and sees why it is low).
            let bob = try await harness.login("bob")
            let owned = Self.things(try await bob.iq("get", "<search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20'/>"))
            #expect(owned.map(\.id).contains("s-bad"))

            let unknownSort = try await dave.iq("get", "<search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20' sort='PRICE'/>")
            #expect(unknownSort.errorCondition == "bad-request")
        }
    }

    @Test func newcomersKeepTheirShareOfTheFirstPlacesOverAThousandSearches() {
        struct Thing { let id: Int; let score: Double; let newcomer: Bool }
        let things = (0..<100).map { Thing(id: $0, score: Double($0 % 37) / 37, newcomer: $0 % 10 == 0) } // 10 newcomers
        var generator = SeededGenerator(seed: 42)
        var newcomersInTopTen = 0
        var seen: [Int: Int] = [:]
        for _ in 0..<1_000 {
            let ranked = TrustRanking.ranked(things, newcomerShare: 0.1, isNewcomer: { $0.newcomer }, score: { $0.score }, using: &generator)
            #expect(ranked.count == 100 && Set(ranked.map(\.id)).count == 100)
            let top = ranked.prefix(10)
            newcomersInTopTen += top.filter(\.newcomer).count
            for thing in top where thing.newcomer { seen[thing.id, default: 0] += 1 }
            // Outside the newcomers' places the order is by score.
            let established = ranked.filter { !$0.newcomer }.map(\.score)
            #expect(established == established.sorted(by: >))
        }
        #expect(newcomersInTopTen == 1_000, "one newcomer in every first ten")
        // The newcomers share that place: each of the ten gets it about a tenth of the time.
        #expect(seen.count == 10 && seen.values.allSatisfy { (50...150).contains($0) }, "\(seen)")
    }
}
