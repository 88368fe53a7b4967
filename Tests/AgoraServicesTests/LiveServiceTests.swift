@testable import AgoraClient
@testable import AgoraServices
@testable import AgoraXMPP
@testable import AgoraApp
import AgoraCore
import AgoraLedger
import AgoraReadings
import Foundation
import Synchronization
import Testing

/// The live-readings service (XEP-0060 on `pubsub.svc.test`) over in-memory connections:
/// who may subscribe, what each subscriber receives of a committed batch, items kept for an
/// account that is away, and proofs that verify. The batches are those a real
/// `ReadingsCommitter` hands over, given to the service as `agora serve` gives them.
@Suite struct LiveServiceTests {
    static let pubsub = "pubsub.svc.test"
    static let ns = "http://jabber.org/protocol/pubsub"

    /// Commits `readings` of air-1 through a committer wired as `agora serve` wires it, and
    /// returns what it handed over.
    static func commit(_ harness: ServiceHarness, _ readings: [Reading]) async throws -> [CommittedBatch] {
        let handed = Mutex<[CommittedBatch]>([])
        let committer = ReadingsCommitter(store: harness.gateway.store, ledger: harness.gateway.ledger) { batches in
            handed.withLock { $0 += batches }
        }
        _ = try await committer.commit([harness.sensor: readings])
        return handed.withLock { $0 }
    }

    /// Readings one a minute from `start` (seconds since the epoch).
    static func readings(from start: Int64, count: Int, value: Double = 0) -> [Reading] {
        (0..<count).map { Reading(name: "air-1:pm25", time: (start + Int64($0) * 60) * 1_000_000_000, unit: "ug/m3", value: .number(value + Double($0))) }
    }

    static func subscribe(_ client: TestClient, _ name: String, proofs: Bool = false) async throws -> XMLElement {
        let options = proofs ? """
            <options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>\
            <field var='agora#proofs'><value>true</value></field></x></options>
            """ : ""
        return try await client.iq("set", to: pubsub, "<pubsub xmlns='\(ns)'><subscribe node='sensors/air-1' jid='\(ServiceHarness.jid(name))'/>\(options)</pubsub>")
    }

    static func isItem(_ element: XMLElement) -> Bool {
        element.name == "message" && element.child("event", namespace: LiveService.eventNamespace)?.child("items", namespace: LiveService.eventNamespace) != nil
    }

    /// The (time, value) of each reading in an item notification.
    static func readings(in message: XMLElement) -> [(String, String)] {
        let item = message.child("event", namespace: LiveService.eventNamespace)?.child("items", namespace: LiveService.eventNamespace)?
            .child("item", namespace: LiveService.eventNamespace)
        let rows = item?.child("readings", namespace: "urn:agora:readings:1")?.elements.filter { $0.name == "r" } ?? []
        return rows.map { ($0[attribute: "t"] ?? "", $0[attribute: "v"] ?? "") }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    @Test func theServiceAndItsNodesAreDiscoverable() async throws {
        try await ServiceHarness.with { harness in
            let dave = try await harness.login("dave")
            let domainItems = try await dave.iq("get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
            #expect(domainItems.child("query")?.elements.contains { $0[attribute: "jid"] == Self.pubsub } == true)
            let info = try await dave.iq("get", to: Self.pubsub, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
            let identity = info.child("query")?.child("identity")
            #expect(identity?[attribute: "category"] == "pubsub" && identity?[attribute: "type"] == "service")
            #expect(info.child("query")?.elements.contains { $0[attribute: "var"] == "http://jabber.org/protocol/pubsub#subscribe" } == true)
            let nodes = try await dave.iq("get", to: Self.pubsub, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
            #expect(nodes.child("query")?.elements.map { $0[attribute: "node"] } == ["sensors/air-1"])
            // Nobody but the gateway publishes or creates nodes.
            let publish = try await dave.iq("set", to: Self.pubsub, "<pubsub xmlns='\(Self.ns)'><publish node='sensors/air-1'><item/></publish></pubsub>")
            #expect(publish.errorCondition == "forbidden")
            let unknown = try await dave.iq("get", to: Self.pubsub, "<pubsub xmlns='\(Self.ns)'><items node='sensors/nope-1'/></pubsub>")
            #expect(unknown.errorCondition == "item-not-found")
            // An account that bought nothing retrieves nothing, and costs no batch loading.
            let items = try await dave.iq("get", to: Self.pubsub, "<pubsub xmlns='\(Self.ns)'><items node='sensors/air-1' max_items='100'/></pubsub>")
            #expect(items.errorCondition == "forbidden")
        }
    }

    @Test func anAccountWithoutAWindowToComeIsRefusedWithWhatToBuy() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let refused = try await Self.subscribe(carol, "carol")
            #expect(refused.errorCondition == "forbidden")
            #expect(refused.child("error")?.child("text")?.text.contains("buy a window") == true)
            // A window that is over does not make a subscription either.
            _ = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' sensor='air-1' from='2026-11-22T08:00:00Z' to='2026-11-22T09:00:00Z'/>")
            #expect(try await Self.subscribe(carol, "carol").errorCondition == "forbidden")
            // Nor may one subscribe someone else.
            let other = try await carol.iq("set", to: Self.pubsub, "<pubsub xmlns='\(Self.ns)'><subscribe node='sensors/air-1' jid='dave@svc.test'/></pubsub>")
            #expect(other.errorCondition == "bad-request")
            #expect(harness.live.counters.refused == 3)
            #expect(harness.live.subscriptionCount == 0)
        }
    }

    @Test func theOwnerGetsEveryReadingAndABuyerOnlyThoseInsideItsWindow() async throws {
        try await ServiceHarness.with { harness in
            let hour = Self.now / 3600 * 3600
            let bob = try await harness.login("bob", available: true)
            let carol = try await harness.login("carol", available: true)
            #expect(try await Self.subscribe(bob, "bob").child("pubsub")?.child("subscription")?[attribute: "subscription"] == "subscribed")
            // Carol buys the hour after this one: readings of this hour are not hers.
            let next = Reading.formatTime((hour + 3600) * 1_000_000_000), after = Reading.formatTime((hour + 7200) * 1_000_000_000)
            _ = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' sensor='air-1' from='\(next)' to='\(after)'/>")
            #expect(try await Self.subscribe(carol, "carol").errorCondition == nil)
            // One batch of 90 readings a minute apart from 30 minutes before the hour she bought.
            let batches = try await Self.commit(harness, Self.readings(from: hour + 1800, count: 90))
            #expect(batches.count == 1)
            harness.live.committed(batches)
            let all = Self.readings(in: try await bob.next(where: Self.isItem))
            #expect(all.count == 90)
            let hers = Self.readings(in: try await carol.next(where: Self.isItem))
            #expect(hers.count == 60)
            #expect(hers.first?.0 == next)
            #expect(hers.allSatisfy { $0.0 >= next && $0.0 < after })
            #expect(harness.live.counters.delivered + harness.live.counters.keptOffline == 2)
            // Items can be fetched again, with the same filter.
            let fetched = try await carol.iq("get", to: Self.pubsub, "<pubsub xmlns='\(Self.ns)'><items node='sensors/air-1' max_items='5'/></pubsub>")
            let item = try #require(fetched.child("pubsub")?.child("items")?.child("item"))
            #expect(item[attribute: "id"] == String(batches[0].commit))
            #expect(item.child("readings")?.elements.filter { $0.name == "r" }.count == 60)
        }
    }

    @Test func itemsForAnAccountThatIsAwayArriveWithItsNextPresence() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob")
            _ = try await Self.subscribe(bob, "bob")
            try await bob.close()
            let batches = try await Self.commit(harness, Self.readings(from: Self.now - 600, count: 5))
            harness.live.committed(batches)
            for _ in 0..<500 where harness.live.counters.keptOffline == 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(harness.live.counters.keptOffline == 1)
            let back = try await harness.login("bob", resource: "later", available: true)
            let item = try await back.next(where: Self.isItem)
            #expect(Self.readings(in: item).map(\.1) == ["0.0", "1.0", "2.0", "3.0", "4.0"])
            // Delivered once: nothing is left for a later presence (removed once handed over).
            var pending = 1
            for _ in 0..<500 where pending > 0 {
                pending = try harness.gateway.store.read { try $0.count(harness.gateway.store.tables.livePending) }
                if pending > 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(pending == 0)
            let again = try await harness.login("bob", resource: "third", available: true)
            #expect(try await again.drain().contains(where: Self.isItem) == false)
        }
    }

    @Test func aLargeBatchGoesOutInPartsThatTogetherHoldItAll() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            _ = try await Self.subscribe(bob, "bob")
            let batches = try await Self.commit(harness, Self.readings(from: Self.now - 7200, count: 1200))
            harness.live.committed(batches)
            var values: [String] = []
            var parts: [String] = []
            for _ in 0..<3 {
                let message = try await bob.next(where: Self.isItem)
                values += Self.readings(in: message).map(\.1)
                let payload = message.child("event")?.child("items")?.child("item")?.child("readings", namespace: "urn:agora:readings:1")
                parts.append("\(payload?[attribute: "part"] ?? "-")/\(payload?[attribute: "parts"] ?? "-")")
            }
            #expect(parts == ["1/3", "2/3", "3/3"])
            #expect(values == (0..<1200).map { "\(Double($0))" })
        }
    }

    @Test func itemsWithProofsVerifyAgainstTheLogKey() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            _ = try await Self.subscribe(bob, "bob", proofs: true)
            let batches = try await Self.commit(harness, Self.readings(from: Self.now - 600, count: 7, value: 10))
            harness.live.committed(batches)
            let message = try await bob.next(where: Self.isItem)
            let payload = try #require(message.child("event")?.child("items")?.child("item")?.child("readings", namespace: "urn:agora:readings:1"))
            let verifier = try NoteVerifier(parsing: try GatewayStatus(gateway: harness.gateway).logKey)
            let verified = try LiveWatch.readings(in: payload, sensor: harness.sensor, verifier: verifier)
            #expect(verified.map(\.v) == (0..<7).map { Double(10 + $0) })
            // A record changed in transit no longer verifies.
            var forged = payload
            if let index = forged.children.firstIndex(where: { if case .element(let e) = $0 { e.name == "r" } else { false } }),
               case .element(var row) = forged.children[index] {
                row[attribute: "v"] = "99.0"
                forged.children[index] = .element(row)
            }
            #expect(throws: XMPPClientError.self) { try LiveWatch.readings(in: forged, sensor: harness.sensor, verifier: verifier) }
        }
    }
}
