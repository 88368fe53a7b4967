import AgoraCore
@testable import AgoraXMPP
import Testing

/// The receiving side of server-to-server streams: the c2s machine with `S2SRole`. What a
/// peer must name, when dialback and EXTERNAL are available, and that an authenticated peer
/// speaks only for its own domain.
struct S2SStreamStateMachineTests {
    let domain = "gw1.test"
    let withDialback = S2SRole(tlsAvailable: true, dialback: true)

    func element(_ name: String, _ namespace: String, _ attributes: [XMLElement.Attribute] = [], text: String? = nil) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes, children: text.map { [.text($0)] } ?? [])
    }

    func header(from: String? = "city.test") -> XMLStreamEvent {
        var attributes: [XMLElement.Attribute] = [.init("to", "gw1.test"), .init("version", "1.0")]
        if let from { attributes.append(.init("from", from)) }
        return .streamOpened(element("stream", Namespace.streams, attributes))
    }

    func dialbackResult(from: String = "city.test", to: String = "gw1.test") -> XMLStreamEvent {
        .element(element("result", Namespace.dialback, [.init("from", from), .init("to", to)], text: "abcdef"))
    }

    func message(from: String, to: String = "alice@gw1.test") -> XMLStreamEvent {
        .element(element("message", Namespace.server, [.init("from", from), .init("to", to)]))
    }

    func condition(_ body: () throws -> Void) -> StreamError.Condition? {
        do { try body() } catch let error as StreamError { return error.condition } catch { return nil }
        return nil
    }

    /// A machine after STARTTLS and the new header, waiting for authentication.
    func encrypted(_ role: S2SRole? = nil, certificate: Bool = false) throws -> S2SStateMachine {
        var machine = S2SStateMachine(role: role ?? withDialback, domain: domain, secure: false)
        _ = try machine.receive(header())
        #expect(try machine.receive(.element(element("starttls", Namespace.tls))).kind == "startTLS")
        machine.tlsHandshakeCompleted(clientCertificate: certificate)
        _ = try machine.receive(header())
        return machine
    }

    func link(_ peer: String = "city.test") -> S2SInboundLink {
        S2SInboundLink(domain: peer, served: ["gw1.test", "rooms.gw1.test"], maxSenders: 10)
    }

    @Test func aStreamThatDoesNotNameItsDomainOrNamesOursIsInvalidFrom() {
        var machine = S2SStateMachine(role: withDialback, domain: domain, secure: false)
        #expect(condition { _ = try machine.receive(header(from: nil)) } == .invalidFrom)
        machine = S2SStateMachine(role: withDialback, domain: domain, secure: false)
        #expect(condition { _ = try machine.receive(header(from: "gw1.test")) } == .invalidFrom)
        machine = S2SStateMachine(role: withDialback, domain: domain, secure: false)
        #expect(condition { _ = try machine.receive(header(from: "not a domain")) } == .invalidFrom)
    }

    @Test func beforeTLSOnlyStartTLSIsOfferedAndDialbackIsAPolicyViolation() throws {
        var machine = S2SStateMachine(role: withDialback, domain: domain, secure: false)
        guard case .openStream(true, let features) = try machine.receive(header()) else { Issue.record("no features"); return }
        #expect(features.child("starttls", namespace: Namespace.tls)?.child("required") != nil)
        #expect(features.child("dialback", namespace: Namespace.dialbackFeature) == nil)
        #expect(condition { _ = try machine.receive(dialbackResult()) } == .policyViolation)
    }

    @Test func afterTLSDialbackIsOfferedAndExternalOnlyForATrustedCertificate() throws {
        var machine = try encrypted()
        var features = machine.features
        #expect(features.child("dialback", namespace: Namespace.dialbackFeature) != nil)
        #expect(features.child("mechanisms", namespace: Namespace.sasl) == nil)
        machine = try encrypted(certificate: true)
        features = machine.features
        #expect(features.child("mechanisms", namespace: Namespace.sasl)?.elements.map(\.text) == ["EXTERNAL"])
        // With certificates required, no dialback is offered, and a key is not understood.
        machine = try encrypted(S2SRole(tlsAvailable: true, dialback: false))
        #expect(machine.features.child("dialback", namespace: Namespace.dialbackFeature) == nil)
        #expect(condition { _ = try machine.receive(dialbackResult()) } == .notAuthorized)
    }

    @Test func aDialbackKeyMustBeForTheStreamsDomainAndForUs() throws {
        var machine = try encrypted()
        #expect(condition { _ = try machine.receive(dialbackResult(from: "evil.test")) } == .invalidFrom)
        machine = try encrypted()
        #expect(condition { _ = try machine.receive(dialbackResult(to: "gw2.test")) } == .hostUnknown)
    }

    @Test func aVerifiedKeyEstablishesTheLinkAndWhatWaitedComesBackInOrder() throws {
        var machine = try encrypted()
        guard case .verifyDialback(let from, let key) = try machine.receive(dialbackResult()) else { Issue.record("no verification asked"); return }
        #expect(from == "city.test" && key == "abcdef")
        #expect(try machine.receive(message(from: "carol@city.test")).kind == "none")   // held
        #expect(machine.nextHeldEvent() == nil)                                        // still verifying
        #expect(try machine.dialbackCompleted(valid: true).kind == "succeed")
        #expect(machine.restartedIdentity == "city.test")
        try machine.bound(link())
        guard let held = machine.nextHeldEvent() else { Issue.record("the message was not held"); return }
        #expect(try machine.receive(held).kind == "stanza")
    }

    @Test func anInvalidKeyIsRefusedAndNothingIsEstablished() throws {
        var machine = try encrypted()
        _ = try machine.receive(dialbackResult())
        #expect(try machine.dialbackCompleted(valid: false).kind == "refuse")
        #expect(machine.restartedIdentity == nil && machine.link == nil)
        #expect(condition { _ = try machine.receive(message(from: "carol@city.test")) } == .notAuthorized)
    }

    @Test func anEstablishedPeerSpeaksOnlyForItsDomainAndOnlyToOurs() throws {
        var machine = try encrypted()
        _ = try machine.receive(dialbackResult())
        _ = try machine.dialbackCompleted(valid: true)
        try machine.bound(link())
        #expect(try machine.receive(message(from: "carol@city.test/phone")).kind == "stanza")
        #expect(try machine.receive(message(from: "city.test", to: "rooms.gw1.test")).kind == "stanza")
        #expect(condition { _ = try machine.receive(message(from: "carol@city.test", to: "bob@gw2.test")) } == .hostUnknown)
        #expect(condition { _ = try machine.receive(message(from: "mallory@evil.test")) } == .invalidFrom)
    }

    @Test func aStanzaWithoutFromEndsTheStream() throws {
        var machine = try encrypted()
        _ = try machine.receive(dialbackResult())
        _ = try machine.dialbackCompleted(valid: true)
        try machine.bound(link())
        #expect(condition { _ = try machine.receive(.element(element("message", Namespace.server, [.init("to", "alice@gw1.test")]))) } == .invalidFrom)
    }

    @Test func afterExternalTheRestartedStreamMayNotChangeItsDomain() throws {
        var machine = try encrypted(certificate: true)
        #expect(try machine.receive(.element(element("auth", Namespace.sasl, [.init("mechanism", "EXTERNAL")]))).kind == "authenticate")
        #expect(try machine.authenticationCompleted(.success("city.test", additionalData: nil)).kind == "succeed")
        #expect(condition { _ = try machine.receive(header(from: "evil.test")) } == .invalidFrom)
    }

    @Test func afterExternalTheRestartedStreamOffersNothingAndWaitsForItsLink() throws {
        var machine = try encrypted(certificate: true)
        _ = try machine.receive(.element(element("auth", Namespace.sasl, [.init("mechanism", "EXTERNAL")])))
        _ = try machine.authenticationCompleted(.success("city.test", additionalData: nil))
        guard case .openStream(true, let features) = try machine.receive(header()) else { Issue.record("no new header"); return }
        #expect(Array(features.elements).isEmpty)
        #expect(machine.restartedIdentity == "city.test")
    }

    @Test func verificationQuestionsAreAnsweredOnlyOnceEncrypted() throws {
        var machine = S2SStateMachine(role: withDialback, domain: domain, secure: false)
        _ = try machine.receive(header())
        let verify = XMLStreamEvent.element(element("verify", Namespace.dialback, [.init("from", "city.test"), .init("to", "gw1.test"), .init("id", "x")], text: "k"))
        #expect(condition { _ = try machine.receive(verify) } == .policyViolation)
        machine = try encrypted()
        #expect(try machine.receive(verify).kind == "answerDialbackVerify")
    }

    @Test func thePeersStreamErrorClosesOurStreamWithoutOneOfOurOwn() throws {
        var machine = try encrypted()
        guard case .close(let closing) = try machine.receive(.element(element("error", Namespace.streams))) else { Issue.record("not closed"); return }
        #expect(closing.error == nil)
    }
}
