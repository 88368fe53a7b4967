@testable import AgoraXMPP
import Foundation
import Testing

/// XEP-0347 search and `urn:agora:pki:1`'s public reads.
@Suite struct DiscoveryAndPKIServiceTests {
    @Test func aSearchFindsTheSensorsThatMatchEveryFilterAndNoOthers() async throws {
        try await ServiceHarness.with { harness in
            let dave = try await harness.login("dave")
            let found = try await dave.iq("get", """
                <search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20'><strEq name='CLASS' value='pm25'/>\
                <numRange name='PRICE' min='0' max='10'/><numRange name='LAT' min='35' max='36'/></search>
                """)
            let things = found.child("found")?.elements.filter { $0.name == "thing" } ?? []
            #expect(things.map { $0[attribute: "nodeId"] } == ["air-1"])
            #expect(things.first?[attribute: "jid"] == "svc.test")
            let none = try await dave.iq("get", "<search xmlns='urn:xmpp:iot:discovery' offset='0' maxCount='20'><numGt name='PRICE' value='2'/></search>")
            #expect(none.child("found")?.elements.filter { $0.name == "thing" }.isEmpty == true)
        }
    }

    @Test func registeringAThingOverDiscoveryIsNotImplemented() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob")
            let reply = try await bob.iq("set", "<register xmlns='urn:xmpp:iot:discovery'/>")
            #expect(reply.errorCondition == "feature-not-implemented")
        }
    }

    @Test func theCAAndItsRevocationListAreReadableByAnyAccount() async throws {
        try await ServiceHarness.with { harness in
            let dave = try await harness.login("dave")
            let ca = try await dave.iq("get", "<ca xmlns='urn:agora:pki:1'/>")
            #expect(ca.child("ca")?.text.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
            let crl = try await dave.iq("get", "<crl xmlns='urn:agora:pki:1'/>")
            let der = Data(base64Encoded: crl.child("crl")?.text ?? "")
            #expect(der?.first == 0x30)   // a DER SEQUENCE
            let unknown = try await dave.iq("get", "<cert xmlns='urn:agora:pki:1' serial='00ff00ff'/>")
            #expect(unknown.errorCondition == "item-not-found")
        }
    }

    @Test func aCSRThatIsNotPEMIsABadRequestAndIssuesNothing() async throws {
        try await ServiceHarness.with { harness in
            let dave = try await harness.login("dave")
            let reply = try await dave.iq("set", "<csr xmlns='urn:agora:pki:1'>not a request</csr>")
            #expect(reply.errorCondition == "bad-request")
        }
    }
}
