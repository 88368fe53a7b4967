import AgoraCore
@testable import AgoraXMPP
import Testing

/// The negotiation state machine without sockets: what is offered and accepted when.
struct StreamNegotiationTests {
    let requireTLS = StreamNegotiation.Policy(tlsRequired: true, tlsAvailable: true, plainEnabled: true)

    func element(_ name: String, _ namespace: String, _ attributes: [XMLElement.Attribute] = [], children: [XMLElement.Node] = []) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes, children: children)
    }

    @Test func beforeTLSOnlyStartTLSIsOfferedAndStanzasAreNotAuthorized() throws {
        let negotiation = StreamNegotiation(policy: requireTLS, secure: false)
        #expect(negotiation.features.child("starttls", namespace: Namespace.tls)?.child("required") != nil)
        #expect(negotiation.features.child("mechanisms") == nil)
        #expect(try negotiation.step(for: element("starttls", Namespace.tls)) == .startTLS)
        #expect { try negotiation.step(for: element("message", Namespace.client)) } throws: { ($0 as? StreamError)?.condition == .notAuthorized }
        #expect(try negotiation.step(for: element("auth", Namespace.sasl, [.init("mechanism", "PLAIN")]))
                == .saslFailure(SASLFailure(.encryptionRequired, "STARTTLS first")))
    }

    @Test func afterTLSSCRAMAndPlainAreOfferedButExternalOnlyWithACertificate() throws {
        var negotiation = StreamNegotiation(policy: requireTLS, secure: false)
        negotiation.tlsEstablished()
        #expect(negotiation.mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
        negotiation.hasClientCertificate = true
        #expect(negotiation.mechanisms.contains("EXTERNAL"))
        #expect(throws: StreamError.self) { try negotiation.step(for: element("starttls", Namespace.tls)) }
    }

    @Test func plainIsNeverOfferedWithoutTLS() {
        let negotiation = StreamNegotiation(policy: .init(tlsRequired: false, tlsAvailable: true, plainEnabled: true), secure: false)
        #expect(negotiation.mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-1"])
        #expect(negotiation.features.child("starttls", namespace: Namespace.tls) != nil)
        #expect(negotiation.features.child("starttls", namespace: Namespace.tls)?.child("required") == nil)
    }

    @Test func anUnofferedMechanismIsInvalid() throws {
        let negotiation = StreamNegotiation(policy: requireTLS, secure: true)
        #expect(try negotiation.step(for: element("auth", Namespace.sasl, [.init("mechanism", "DIGEST-MD5")]))
                == .saslFailure(SASLFailure(.invalidMechanism, "mechanism not offered")))
    }

    @Test func afterSASLTheRestartedStreamOffersBindAndStreamManagementAndStanzasWaitForBind() throws {
        var negotiation = StreamNegotiation(policy: requireTLS, secure: true)
        negotiation.authenticationStarted()
        negotiation.authenticated(try BareJID("alice@gw.test"))
        negotiation.streamRestarted()
        #expect(negotiation.features.child("bind", namespace: Namespace.bind) != nil)
        #expect(negotiation.features.child("sm", namespace: Namespace.streamManagement) != nil)
        let bind = element("iq", Namespace.client, [.init("type", "set"), .init("id", "1")], children: [.element(element("bind", Namespace.bind))])
        #expect(try negotiation.step(for: bind) == .bind(bind))
        #expect(throws: StreamError.self) { try negotiation.step(for: element("message", Namespace.client)) }
        #expect(try negotiation.step(for: element("resume", Namespace.streamManagement, [.init("previd", "x"), .init("h", "3")])) == .resume(previd: "x", handled: 3))
        negotiation.bound(JID(try BareJID("alice@gw.test"), resource: "r"))
        #expect(try negotiation.step(for: element("message", Namespace.client)) == .stanza(element("message", Namespace.client)))
        #expect(try negotiation.step(for: element("r", Namespace.streamManagement)) == .ackRequest)
    }

    @Test func negotiationElementsAfterBindingEndTheStream() throws {
        var negotiation = StreamNegotiation(policy: requireTLS, secure: true)
        negotiation.bound(JID(try BareJID("alice@gw.test"), resource: "r"))
        #expect(throws: StreamError.self) { try negotiation.step(for: element("auth", Namespace.sasl, [.init("mechanism", "PLAIN")])) }
        #expect(throws: StreamError.self) { try negotiation.step(for: element("foo", "urn:example")) }
    }
}
