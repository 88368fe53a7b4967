@testable import AgoraClient
@testable import AgoraXMPP
import AgoraApp
import AgoraCore
import AgoraLedger
import Crypto
import Testing

/// What `agora client read` checks of each reading a page shows, on real pages from the
/// gateway's readings service: an honest page passes, and every way of lying is caught.
@Suite struct VerifiedReadingsTests {
    /// A page of five readings of air-1 with proofs, as bob (its owner) gets it, its receipts
    /// and the gateway's log key.
    static func page(_ harness: ServiceHarness) async throws -> (rows: [XMLElement], receipts: [UInt64: Receipt], verifier: NoteVerifier) {
        let bob = try await harness.login("bob")
        // A purchase seals a checkpoint, which the readings' commit needs for its receipt.
        _ = try await harness.login("carol").iq("set", "<purchase xmlns='urn:agora:market:1' \(ReadingsServiceTests.hour)/>")
        let reply = try await bob.iq("get", "<readings xmlns='urn:agora:readings:1' \(ReadingsServiceTests.hour) proofs='true'><set xmlns='http://jabber.org/protocol/rsm'><max>5</max></set></readings>")
        #expect(reply[attribute: "type"] == "result", "\(reply)")
        let page = try #require(reply.child("readings"))
        var receipts: [UInt64: Receipt] = [:]
        for element in page.elements where element.name == "receipt" {
            receipts[UInt64(element[attribute: "index"]!)!] = try Receipt(json: Array(element.text.utf8))
        }
        let verifier = try NoteVerifier(parsing: try GatewayStatus(gateway: harness.gateway).logKey)
        return (page.elements.filter { $0.name == "r" }, receipts, verifier)
    }

    static func check(_ row: XMLElement, _ page: (rows: [XMLElement], receipts: [UInt64: Receipt], verifier: NoteVerifier),
                      sensor: String = "air-1", verifier: NoteVerifier? = nil) throws -> VerifiedReadings.Item {
        var commits: [UInt64: LedgerEntry.ReadingsCommit] = [:]
        return try VerifiedReadings.verified(row, sensor: try SensorID(sensor), receipts: page.receipts, verifier: verifier ?? page.verifier,
                                             commits: &commits, keepProofs: false)
    }

    @Test func anHonestPageVerifiesReadingByReading() async throws {
        try await ServiceHarness.with { harness in
            let page = try await Self.page(harness)
            #expect(page.rows.count == 5, "\(page)")
            for row in page.rows { _ = try Self.check(row, page) }
        }
    }

    @Test func aChangedValueTimeOrPathAnotherSensorOrAnotherKeyIsRefused() async throws {
        try await ServiceHarness.with { harness in
            let page = try await Self.page(harness)
            let honest = page.rows[1]
            func refused(_ row: XMLElement, sensor: String = "air-1", verifier: NoteVerifier? = nil, _ why: Comment) {
                #expect(throws: XMPPClientError.self, why) { _ = try Self.check(row, page, sensor: sensor, verifier: verifier) }
            }
            var value = honest
            value[attribute: "v"] = "999.0"
            refused(value, "a value other than the record's")
            var time = honest
            time[attribute: "t"] = page.rows[2][attribute: "t"]
            refused(time, "a time other than the record's")
            var record = honest
            record[attribute: "record"] = page.rows[2][attribute: "record"]
            refused(record, "another reading's record under this one's path")
            var path = honest
            path.children.removeLast()
            refused(path, "a shortened audit path")
            var bare = honest
            bare.attributes.removeAll { $0.name == "record" }
            refused(bare, "a reading without its proof")
            refused(honest, sensor: "air-2", "a commit of another sensor")
            let stranger = try NoteVerifier(name: "svc.test/agora", publicKey: Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation))
            refused(honest, verifier: stranger, "a receipt under another log key")
        }
    }
}
