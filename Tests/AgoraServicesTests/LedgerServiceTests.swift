@testable import AgoraXMPP
import AgoraLedger
import AgoraApp
import Foundation
import Testing

/// `urn:agora:ledger:1`: the signed checkpoint, entries only to whom they concern, proofs.
@Suite struct LedgerServiceTests {
    @Test func theCheckpointIsASignedNoteForTheWholeLog() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<checkpoint xmlns='urn:agora:ledger:1'/>")
            let checkpoint = try #require(reply.child("checkpoint"))
            let size = try #require(checkpoint[attribute: "size"].flatMap(Int.init))
            #expect(size >= 1)
            let lines = checkpoint.text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first == "svc.test/agora")
            #expect(lines.count > 1 && lines[1] == Substring(String(size)))
            #expect(checkpoint.text.contains("\n— svc.test/agora "))   // the signature line (C2SP signed-note)
        }
    }

    @Test func theLogKeyIsPublishedWithTheGenesisReceiptAndInDiscoInfo() async throws {
        try await ServiceHarness.with { harness in
            let status = try GatewayStatus(gateway: harness.gateway)
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<log-key xmlns='urn:agora:ledger:1'/>")
            let logKey = try #require(reply.child("log-key"))
            #expect(logKey[attribute: "origin"] == "svc.test/agora")
            #expect(logKey[attribute: "key"] == status.logKey, "the key the gateway signs with")
            // The receipt of entry 0 verifies under that key and is the genesis entry naming it.
            let receiptJSON = try #require(logKey.child("receipt")?.text)
            let receipt = try Receipt(json: Array(receiptJSON.utf8))
            let entry = try receipt.verify(with: try NoteVerifier(parsing: try #require(logKey[attribute: "key"])))
            #expect(receipt.index == 0 && String(decoding: entry, as: UTF8.self).contains(status.logKey))

            // XEP-0128: the same key in the server's disco#info, after the features.
            let info = try await carol.iq("get", to: "svc.test", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
            let form = try #require(info.child("query")?.elements.first { $0.name == "x" && $0.namespace == "jabber:x:data" })
            var values: [String: String] = [:]
            for field in form.elements { if let name = field[attribute: "var"] { values[name] = Array(field.elements).first?.text ?? "" } }
            #expect(values["FORM_TYPE"] == "urn:agora:ledger:1" && values["log-key"] == status.logKey && values["origin"] == "svc.test/agora", "\(values)")
        }
    }

    @Test func aPurchaseEntryIsReadableByItsBuyerAndNotByAnotherConsumer() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let bought = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(MarketServiceTests.window)/>")
            let index = try #require(bought.child("purchase")?[attribute: "ledger-index"])
            let entry = try await carol.iq("get", "<entry xmlns='urn:agora:ledger:1' index='\(index)'/>")
            let text = try #require(entry.child("entry")?.text)
            let json = String(decoding: try #require(Data(base64Encoded: text)), as: UTF8.self)
            #expect(json.contains("\"purchase\"") || json.contains("purchase."))
            let dave = try await harness.login("dave")
            let refused = try await dave.iq("get", "<entry xmlns='urn:agora:ledger:1' index='\(index)'/>")
            #expect(refused.errorCondition == "forbidden")
        }
    }

    @Test func anIndexBeyondTheLogIsItemNotFound() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<inclusion xmlns='urn:agora:ledger:1' index='100000' size='100001'/>")
            #expect(reply.errorCondition == "item-not-found" || reply.errorCondition == "bad-request")
            let set = try await carol.iq("set", "<checkpoint xmlns='urn:agora:ledger:1'/>")
            #expect(set.errorCondition == "bad-request")
        }
    }

    @Test func aConsistencyProofSpansTwoCheckpoints() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let before = try await carol.iq("get", "<checkpoint xmlns='urn:agora:ledger:1'/>")
            let old = try #require(before.child("checkpoint")?[attribute: "size"])
            _ = try await carol.iq("set", "<purchase xmlns='urn:agora:market:1' \(MarketServiceTests.window)/>")
            let after = try await carol.iq("get", "<checkpoint xmlns='urn:agora:ledger:1'/>")
            let new = try #require(after.child("checkpoint")?[attribute: "size"])
            #expect(Int(new)! > Int(old)!)
            let proof = try await carol.iq("get", "<consistency xmlns='urn:agora:ledger:1' old='\(old)' new='\(new)'/>")
            #expect((proof.child("consistency")?.elementCount ?? 0) > 0)
            let backwards = try await carol.iq("get", "<consistency xmlns='urn:agora:ledger:1' old='\(new)' new='\(old)'/>")
            #expect(backwards.errorCondition != nil)
        }
    }
}
