@testable import AgoraXMPP
import Testing

/// The IQs every XMPP server answers: ping (XEP-0199), version (XEP-0092), disco (XEP-0030),
/// roster (RFC 6121 §2), and the answer to a namespace nobody serves.
@Suite struct CoreServicesTests {
    @Test func aPingIsAnsweredWithAnEmptyResult() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<ping xmlns='urn:xmpp:ping'/>")
            #expect(reply[attribute: "type"] == "result")
            #expect(reply.firstElement == nil)
            #expect(reply[attribute: "to"] == carol.jid)
        }
    }

    @Test func versionNamesTheSoftwareAndItsVersion() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<query xmlns='jabber:iq:version'/>")
            #expect(reply.child("query")?.child("version")?.text == "services-test")
        }
    }

    @Test func discoInfoListsEveryServedNamespace() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
            let features = Set(reply.child("query")?.elements.filter { $0.name == "feature" }.compactMap { $0[attribute: "var"] } ?? [])
            for namespace in ["urn:agora:market:1", "urn:agora:ledger:1", "urn:agora:readings:1", "urn:agora:pki:1",
                              "urn:xmpp:iot:discovery", "urn:xmpp:iot:sensordata", "http://jabber.org/protocol/commands",
                              "jabber:iq:roster", "urn:xmpp:ping", "urn:xmpp:sm:3"] {
                #expect(features.contains(namespace), "disco#info lacks \(namespace)")
            }
        }
    }

    @Test func aNamespaceNobodyServesIsServiceUnavailable() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", "<query xmlns='urn:example:nothing'/>")
            #expect(reply.errorCondition == "service-unavailable")
        }
    }

    @Test func aRosterItemSetIsPushedToTheOwnerAndReturnedByTheNextGet() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            // Only a resource that asked for the roster gets pushes (RFC 6121 §2.1.6).
            let empty = try await carol.iq("get", to: "", "<query xmlns='jabber:iq:roster'/>")
            #expect(empty.child("query")?.elementCount == 0)
            let set = try await carol.iq("set", to: "", "<query xmlns='jabber:iq:roster'><item jid='bob@svc.test' name='Bob'><group>owners</group></item></query>")
            #expect(set[attribute: "type"] == "result")
            let push = try await carol.next(where: TestClient.isPush)
            #expect(push.child("query")?.child("item")?[attribute: "jid"] == "bob@svc.test")
            let roster = try await carol.iq("get", to: "", "<query xmlns='jabber:iq:roster'/>")
            let item = roster.child("query")?.child("item")
            #expect(item?[attribute: "name"] == "Bob")
            #expect(item?[attribute: "subscription"] == "none")
            #expect(item?.child("group")?.text == "owners")
        }
    }

    @Test func aRosterSetNamingTheAccountItselfIsNotAllowedAndStoresNothing() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("set", to: "", "<query xmlns='jabber:iq:roster'><item jid='carol@svc.test'/></query>")
            #expect(reply.errorCondition == "not-allowed")
            let roster = try await carol.iq("get", to: "", "<query xmlns='jabber:iq:roster'/>")
            #expect(roster.child("query")?.elementCount == 0)
        }
    }
}
