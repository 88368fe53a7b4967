@testable import AgoraXMPP
import Testing

/// Messages and IQs between clients (RFC 6120 §10, RFC 6121 §8): `from` stamped by the
/// server, offline storage for the absent, errors for nobody.
@Suite struct StanzaRouterTests {
    static func isMessage(_ element: XMLElement) -> Bool { element.name == "message" }

    @Test func aMessageReachesTheRecipientWithTheSendersTrueAddress() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            let carol = try await harness.login("carol", available: true)
            // A forged `from` is overwritten with the session's own address.
            try await carol.send("<message to='bob@svc.test' from='olga@svc.test/admin' type='chat'><body>hello bob</body></message>")
            let message = try await bob.next(where: Self.isMessage)
            #expect(message[attribute: "from"] == carol.jid)
            #expect(message.child("body")?.text == "hello bob")
        }
    }

    @Test func aMessageForAnAbsentAccountArrivesAtItsNextLoginWithADelayStamp() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol", available: true)
            try await carol.send("<message to='dave@svc.test' type='chat'><body>first</body></message>")
            try await carol.send("<message to='dave@svc.test' type='chat'><body>second</body></message>")
            await harness.server.work.idle()
            let dave = try await harness.login("dave", available: true)
            let first = try await dave.next(where: Self.isMessage)
            let second = try await dave.next(where: Self.isMessage)
            // In the order they were sent: one sender's offline messages are stored in order.
            #expect([first.child("body")?.text, second.child("body")?.text] == ["first", "second"])
            #expect(first.child("delay", namespace: "urn:xmpp:delay")?[attribute: "from"] == "svc.test")
            #expect(first[attribute: "from"] == carol.jid)
            // Delivered once: a second login finds nothing waiting.
            try await dave.close()
            await harness.server.work.idle()
            let again = try await harness.login("dave", resource: "second", available: true)
            await harness.server.work.idle()
            #expect(try await again.drain().filter(Self.isMessage).isEmpty)
        }
    }

    @Test func aMessageToNoSuchAccountIsServiceUnavailable() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol", available: true)
            try await carol.send("<message id='m1' to='nobody@svc.test' type='chat'><body>?</body></message>")
            let bounce = try await carol.next(where: Self.isMessage)
            #expect(bounce[attribute: "id"] == "m1")
            #expect(bounce.errorCondition == "service-unavailable")
        }
    }

    @Test func stanzasForOtherDomainsAreRemoteServerNotFound() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("get", to: "elsewhere.example", "<ping xmlns='urn:xmpp:ping'/>")
            #expect(reply.errorCondition == "remote-server-not-found")
        }
    }

    @Test func anIQToAnotherUsersResourceIsRoutedAndItsResultComesBack() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            let carol = try await harness.login("carol", available: true)
            try await carol.send("<iq type='get' id='v1' to='\(bob.jid)'><query xmlns='jabber:iq:version'/></iq>")
            let request = try await bob.next { $0.name == "iq" && $0[attribute: "id"] == "v1" }
            #expect(request[attribute: "from"] == carol.jid)
            try await bob.send("<iq type='result' id='v1' to='\(carol.jid)'><query xmlns='jabber:iq:version'><name>bob's client</name></query></iq>")
            let result = try await carol.next { $0.name == "iq" && $0[attribute: "id"] == "v1" }
            #expect(result[attribute: "from"] == bob.jid)
            #expect(result.child("query")?.child("name")?.text == "bob's client")
        }
    }

    @Test func aForgedRosterPushToAnotherUserIsForbidden() async throws {
        try await ServiceHarness.with { harness in
            let bob = try await harness.login("bob", available: true)
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("set", to: bob.jid, "<query xmlns='jabber:iq:roster'><item jid='carol@svc.test' subscription='both'/></query>")
            #expect(reply.errorCondition == "forbidden")
            await harness.server.work.idle()
            #expect(try await bob.drain().filter(TestClient.isPush).isEmpty)
        }
    }
}
