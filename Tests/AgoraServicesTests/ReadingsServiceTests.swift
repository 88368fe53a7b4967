@testable import AgoraXMPP
import Testing

/// `urn:agora:readings:1` (history pages with proofs) and XEP-0323 read-outs: the owner reads
/// everything, a buyer what it bought, anyone else nothing.
@Suite struct ReadingsServiceTests {
    static let hour = "sensor='air-1' from='2026-11-22T08:00:00Z' to='2026-11-22T09:00:00Z'"

    @Test func theOwnerPagesThroughTheWholeHistoryInTimeOrder() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob")
            var after: String?
            var times: [String] = []
            var pages = 0
            repeat {
                let set = "<set xmlns='http://jabber.org/protocol/rsm'><max>25</max>\(after.map { "<after>\($0)</after>" } ?? "")</set>"
                let reply = try await bob.iq("get", "<readings xmlns='urn:agora:readings:1' \(Self.hour)>\(set)</readings>")
                let page = try #require(reply.child("readings"))
                times += page.elements.filter { $0.name == "r" }.compactMap { $0[attribute: "t"] }
                after = page[attribute: "more"] == "true" ? page.child("set")?.child("last")?.text : nil
                pages += 1
            } while after != nil && pages < 10
            #expect(pages == 3)
            #expect(times.count == 60)
            #expect(times == times.sorted())
        }
    }

    @Test func proofsComeWithTheReceiptOfTheirCommit() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob")
            // A purchase seals a checkpoint, which then covers the readings' commit.
            let carol = try await harness.login("carol")
            _ = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(Self.hour)/>")
            let reply = try await bob.iq("get", "<readings xmlns='urn:agora:readings:1' \(Self.hour) proofs='true'><set xmlns='http://jabber.org/protocol/rsm'><max>5</max></set></readings>")
            let page = try #require(reply.child("readings"))
            let first = try #require(page.elements.first { $0.name == "r" })
            #expect(first[attribute: "commit"] != nil)
            #expect(page.child("receipt", namespace: "urn:agora:ledger:1") != nil)
        }
    }

    @Test func aConsumerReadsOnlyWhatItBought() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let before = try await carol.iq("get", "<readings xmlns='urn:agora:readings:1' \(Self.hour)/>")
            #expect(before.errorCondition == "forbidden")
            _ = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' sensor='air-1' from='2026-11-22T08:00:00Z' to='2026-11-22T08:30:00Z'/>")
            let half = try await carol.iq("get", "<readings xmlns='urn:agora:readings:1' sensor='air-1' from='2026-11-22T08:00:00Z' to='2026-11-22T08:30:00Z'/>")
            #expect(half.child("readings")?.elements.filter { $0.name == "r" }.count == 30)
            let beyond = try await carol.iq("get", "<readings xmlns='urn:agora:readings:1' \(Self.hour)/>")
            #expect(beyond.errorCondition == "forbidden")
        }
    }

    @Test func anUnknownSensorIsItemNotFound() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob")
            let reply = try await bob.iq("get", "<readings xmlns='urn:agora:readings:1' sensor='nope-1' from='2026-11-22T08:00:00Z' to='2026-11-22T09:00:00Z'/>")
            #expect(reply.errorCondition == "item-not-found")
        }
    }

    @Test func aHistoricalReadOutIsAcceptedThenDeliveredAsFieldsMessages() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            let reply = try await bob.iq("get", """
                <req xmlns='urn:xmpp:iot:sensordata' seqnr='7' historical='true' from='2026-11-22T08:00:00Z' to='2026-11-22T08:10:00Z'>\
                <node nodeId='air-1'/></req>
                """)
            #expect(reply.child("accepted")?[attribute: "seqnr"] == "7")
            var values: [String] = []
            while true {
                let message = try await bob.next { $0.name == "message" && $0.child("fields") != nil }
                let fields = try #require(message.child("fields"))
                #expect(fields[attribute: "seqnr"] == "7")
                for node in fields.elements { for stamp in node.elements { values += stamp.elements.compactMap { $0[attribute: "value"] } } }
                if fields[attribute: "done"] == "true" { break }
            }
            #expect(values == (0..<10).map { String(Double($0) / 4) })
        }
    }

    @Test func aReadOutByAnOutsiderIsRejected() async throws {
        try await ServiceHarness.with { harness in
            let dave = try await harness.login("dave", available: true)
            let reply = try await dave.iq("get", """
                <req xmlns='urn:xmpp:iot:sensordata' seqnr='8' historical='true' from='2026-11-22T08:00:00Z' to='2026-11-22T08:10:00Z'>\
                <node nodeId='air-1'/></req>
                """)
            #expect(reply.errorCondition == "forbidden")
            #expect(reply.child("rejected")?[attribute: "seqnr"] == "8")
        }
    }
}
