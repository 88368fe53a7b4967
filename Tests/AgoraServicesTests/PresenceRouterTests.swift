@testable import AgoraXMPP
import Testing

/// Presence subscriptions (RFC 6121 §3) change both rosters durably, and presence then
/// flows only where a subscription allows it.
@Suite struct PresenceRouterTests {
    static func isPresence(_ element: XMLElement) -> Bool { element.name == "presence" }

    @Test func aSubscriptionApprovedBothWaysShowsEachOthersPresence() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            let carol = try await harness.login("carol", available: true)
            _ = try await carol.iq("get", to: "", "<query xmlns='jabber:iq:roster'/>")
            try await carol.send("<presence to='bob@svc.test' type='subscribe'/>")
            let request = try await bob.next { Self.isPresence($0) && $0[attribute: "type"] == "subscribe" }
            #expect(request[attribute: "from"] == "carol@svc.test")
            try await bob.send("<presence to='carol@svc.test' type='subscribed'/>")
            let approved = try await carol.next { Self.isPresence($0) && $0[attribute: "type"] == "subscribed" }
            #expect(approved[attribute: "from"] == "bob@svc.test")
            // Bob's current presence follows the approval; his next one reaches carol too.
            try await bob.send("<presence><show>away</show></presence>")
            let away = try await carol.next { Self.isPresence($0) && $0.child("show")?.text == "away" }
            #expect(away[attribute: "from"] == bob.jid)
            // Carol's roster (durable, read back) says she sees bob.
            let roster = try await carol.iq("get", to: "", "<query xmlns='jabber:iq:roster'/>")
            #expect(roster.child("query")?.child("item")?[attribute: "subscription"] == "to")
        }
    }

    @Test func withoutASubscriptionPresenceReachesNobody() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            let carol = try await harness.login("carol", available: true)
            try await carol.send("<presence><show>dnd</show></presence>")
            await harness.server.work.idle()
            #expect(try await bob.drain().filter(Self.isPresence).isEmpty)
        }
    }

    @Test func anUnsolicitedSubscribedWritesNothingIntoTheOtherRoster() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol", available: true)
            try await carol.send("<presence to='bob@svc.test' type='subscribed'/>")
            await harness.server.work.idle()
            let bob = try await harness.login("bob")
            let roster = try await bob.iq("get", to: "", "<query xmlns='jabber:iq:roster'/>")
            #expect(roster.child("query")?.elementCount == 0)
        }
    }
}
