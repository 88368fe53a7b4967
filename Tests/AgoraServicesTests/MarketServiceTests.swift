@testable import AgoraXMPP
import Testing

/// `urn:agora:market:1` over the real server: balances, purchases with their receipts, and
/// refusals that change nothing.
@Suite struct MarketServiceTests {
    static let window = "sensor='air-1' from='2026-11-22T08:00:00Z' to='2026-11-22T10:00:00Z'"

    static func balance(_ client: TestClient) async throws -> Int? {
        let reply = try await client.iq("get", "<balance xmlns='urn:agora:market:1'/>")
        return reply.child("balance")?[attribute: "credits"].flatMap(Int.init)
    }

    @Test func aBalanceShowsWhatWasMinted() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            #expect(try await Self.balance(carol) == 100)
        }
    }

    @Test func aPurchaseChargesTheBuyerThePriceOfTheWindowAndCarriesAReceipt() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(Self.window) request='r-1'/>")
            #expect(reply[attribute: "type"] == "result")
            let purchase = reply.child("purchase")
            #expect(purchase?[attribute: "credits"] == "4")   // two hours at 2 credits an hour
            #expect(purchase?[attribute: "replayed"] == "false")
            #expect(purchase?.child("receipt", namespace: "urn:agora:ledger:1")?.text.contains("\"inclusion\"") == true)
            #expect(try await Self.balance(carol) == 96)
            // The same request id again: the same purchase, not a second charge.
            let again = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(Self.window) request='r-1'/>")
            #expect(again.child("purchase")?[attribute: "replayed"] == "true")
            #expect(try await Self.balance(carol) == 96)
        }
    }

    @Test func aPurchaseWithoutEnoughCreditsIsRefusedAndChangesNothing() async throws {
        try await ServiceHarness.with { harness in
            let dave = try await harness.login("dave")
            let reply = try await dave.iq("set", "<purchase xmlns='urn:agora:market:1' \(Self.window)/>")
            #expect(reply.errorCondition == "not-acceptable")
            #expect(try await Self.balance(dave) == 0)
            let list = try await dave.iq("get", "<purchases xmlns='urn:agora:market:1'/>")
            #expect(list.child("purchases")?.elementCount == 1)   // only the <set/>
        }
    }

    @Test func aPurchaseCostingMoreThanMaxCreditsIsRefusedAndChargesNothing() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(Self.window) max-credits='3'/>")
            #expect(reply.errorCondition == "not-acceptable")
            #expect(try await Self.balance(carol) == 100)
        }
    }

    @Test func onlyTheOwnerChangesASensorsPrice() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let refused = try await carol.iq("set", "<price xmlns='urn:agora:market:1' sensor='air-1' credits='9'/>")
            #expect(refused.errorCondition == "forbidden")
            let bob = try await harness.login("bob")
            let changed = try await bob.iq("set", "<price xmlns='urn:agora:market:1' sensor='air-1' credits='9'/>")
            #expect(changed.child("price")?[attribute: "credits"] == "9")
            let reply = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(Self.window)/>")
            #expect(reply.child("purchase")?[attribute: "credits"] == "18")
        }
    }

    @Test func aTransferMovesCreditsBetweenAccounts() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("set", "<transfer xmlns='urn:agora:market:1' to='dave@svc.test' credits='30'/>")
            #expect(reply[attribute: "type"] == "result")
            #expect(try await Self.balance(carol) == 70)
            let dave = try await harness.login("dave")
            #expect(try await Self.balance(dave) == 30)
            let overdraft = try await dave.iq("set", "<transfer xmlns='urn:agora:market:1' to='carol@svc.test' credits='31'/>")
            #expect(overdraft.errorCondition == "not-acceptable")
            #expect(try await Self.balance(dave) == 30)
        }
    }
}
