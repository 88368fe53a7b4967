import AgoraCore
@testable import AgoraXMPP
import Testing

/// The c2s stream state machine without a channel: what is offered and accepted when, what
/// waits for authentication work, and how the stream ends.
struct XMPPStreamStateMachineTests {
    let domain = "gw.test"
    let requireTLS = C2SRole(tlsRequired: true, tlsAvailable: true, plainEnabled: true)
    let alice: BareJID
    init() throws { alice = try BareJID("alice@gw.test") }

    func element(_ name: String, _ namespace: String, _ attributes: [XMLElement.Attribute] = [], children: [XMLElement.Node] = []) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes, children: children)
    }

    func header(_ attributes: [XMLElement.Attribute] = [.init("to", "gw.test"), .init("version", "1.0")]) -> XMLStreamEvent {
        .streamOpened(element("stream", Namespace.streams, attributes))
    }

    func auth(_ mechanism: String) -> XMLStreamEvent {
        .element(element("auth", Namespace.sasl, [.init("mechanism", mechanism)]))
    }

    func message(_ id: String = "m") -> XMLStreamEvent { .element(element("message", Namespace.client, [.init("id", id)])) }

    /// A machine waiting for the outcome of a SCRAM first step.
    func authenticating() throws -> C2SStateMachine {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        _ = try machine.receive(header())
        #expect(try machine.receive(auth("SCRAM-SHA-256")).kind == "authenticate")
        return machine
    }

    /// A machine with a bound session.
    func established() throws -> (C2SStateMachine, Session) {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, authenticated: alice)
        _ = try machine.receive(header())
        let session = Session(jid: JID(alice, resource: "r"), bare: alice, streamID: "s")
        try machine.bound(session)
        return (machine, session)
    }

    func condition(_ body: () throws -> Void) -> StreamError.Condition? {
        do { try body() } catch let error as StreamError { return error.condition } catch { return nil }
        return nil
    }

    // MARK: Negotiation

    @Test func beforeTLSOnlyStartTLSIsOfferedAndStanzasAreNotAuthorized() throws {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: false)
        guard case .openStream(true, let features) = try machine.receive(header()) else { Issue.record("no features"); return }
        #expect(features.child("starttls", namespace: Namespace.tls)?.child("required") != nil)
        #expect(features.child("mechanisms") == nil)
        #expect(condition { _ = try machine.receive(message()) } == .notAuthorized)
        guard case .write(let refusal) = try machine.receive(auth("PLAIN")) else { Issue.record("no SASL failure"); return }
        #expect(refusal == SASLFailure(.encryptionRequired, "STARTTLS first").element)
        #expect(try machine.receive(.element(element("starttls", Namespace.tls))).kind == "startTLS")
    }

    @Test func afterStartTLSTheNewStreamGetsANewHeaderAndOffersPlainButExternalOnlyWithACertificate() throws {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: false)
        _ = try machine.receive(header())
        _ = try machine.receive(.element(element("starttls", Namespace.tls)))
        #expect(machine.secure)
        machine.tlsHandshakeCompleted(clientCertificate: false)
        guard case .openStream(true, let features) = try machine.receive(header()) else { Issue.record("no new header"); return }
        #expect(features.child("starttls", namespace: Namespace.tls) == nil)
        #expect(machine.mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
        machine.tlsHandshakeCompleted(clientCertificate: true)
        #expect(machine.mechanisms.contains("EXTERNAL"))
        #expect(condition { _ = try machine.receive(.element(element("starttls", Namespace.tls))) } == .policyViolation)
    }

    @Test func plainIsNeverOfferedWithoutTLS() {
        let machine = C2SStateMachine(role: .init(tlsRequired: false, tlsAvailable: true, plainEnabled: true), domain: domain, secure: false)
        #expect(machine.mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-1"])
        #expect(machine.features.child("starttls", namespace: Namespace.tls) != nil)
        #expect(machine.features.child("starttls", namespace: Namespace.tls)?.child("required") == nil)
    }

    @Test func aHeaderForAnotherDomainOrVersionFailsBeforeOurHeaderIsWritten() throws {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        #expect(condition { _ = try machine.receive(header([.init("to", "elsewhere.test"), .init("version", "1.0")])) } == .hostUnknown)
        #expect(condition { _ = try machine.receive(header([.init("to", "gw.test")])) } == .unsupportedVersion)
        #expect(condition { _ = try machine.receive(.streamOpened(element("stream", "urn:example"))) } == .invalidNamespace)
        let failed = machine.fail(StreamError(.hostUnknown, "x"))
        let closing = try #require(failed)
        #expect(closing.writeHeader)
    }

    @Test func anUnofferedMechanismIsRefusedAndTheStreamGoesOn() throws {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        guard case .write(let refusal) = try machine.receive(auth("DIGEST-MD5")) else { Issue.record("no SASL failure"); return }
        #expect(refusal == SASLFailure(.invalidMechanism, "mechanism not offered").element)
        #expect(try machine.receive(auth("SCRAM-SHA-1")).kind == "authenticate")
    }

    // MARK: Authentication off the event loop

    @Test func whatArrivesWhileAuthenticationRunsIsHeldThenGivenBackInOrder() throws {
        var machine = try authenticating()
        #expect(try machine.receive(message("1")).kind == "none")
        #expect(try machine.receive(.element(element("abort", Namespace.sasl))).kind == "none")
        #expect(machine.nextHeldEvent() == nil)  // still pending
        let action = try machine.authenticationCompleted(.failure(SASLFailure(.notAuthorized, "wrong password"), account: "alice"))
        guard case .fail(_, "alice"?) = action else { Issue.record("\(action)"); return }
        #expect(machine.nextHeldEvent() == message("1"))
        #expect(machine.nextHeldEvent() == .element(element("abort", Namespace.sasl)))
        #expect(machine.nextHeldEvent() == nil)
    }

    @Test func moreThanAHandfulOfElementsDuringAuthenticationIsAPolicyViolation() throws {
        var machine = try authenticating()
        for index in 0..<C2SStateMachine.maxHeldEvents { _ = try machine.receive(message("\(index)")) }
        #expect(condition { _ = try machine.receive(message("one too many")) } == .policyViolation)
    }

    @Test func successDropsWhatTheOldStreamHeldAndTheRestartedStreamOffersBinding() throws {
        var machine = try authenticating()
        _ = try machine.receive(message())
        guard case .succeed(let jid, nil) = try machine.authenticationCompleted(.success(alice, additionalData: nil)) else {
            Issue.record("no success"); return
        }
        #expect(jid == alice)
        #expect(machine.nextHeldEvent() == nil)
        guard case .openStream(true, let features) = try machine.receive(header()) else { Issue.record("no new header"); return }
        #expect(features.child("bind", namespace: Namespace.bind) != nil)
        #expect(features.child("sm", namespace: Namespace.streamManagement) != nil)
    }

    @Test func anOutcomeAfterTheStreamEndedIsDropped() throws {
        var machine = try authenticating()
        _ = machine.fail(StreamError(.connectionTimeout, "stream negotiation took too long"))
        #expect(try machine.authenticationCompleted(.success(alice, additionalData: nil)).kind == "none")
        var gone = try authenticating()
        _ = gone.channelInactive()
        #expect(try gone.authenticationCompleted(.success(alice, additionalData: nil)).kind == "none")
    }

    @Test func anOutcomeOutsideAuthenticationIsAnInternalError() {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        #expect(condition { _ = try machine.authenticationCompleted(.success(alice, additionalData: nil)) } == .internalServerError)
    }

    @Test func aFailedSCRAMProofCountsAgainstTheAccountTheExchangeNamed() throws {
        var machine = try authenticating()
        guard case .challenge = try machine.authenticationCompleted(.challenge(SCRAMServer(hash: .sha256), account: "alice", serverFirst: [1])) else {
            Issue.record("no challenge"); return
        }
        #expect(try machine.receive(.element(element("response", Namespace.sasl))).kind == "continueSCRAM")
        guard case .fail(_, "alice"?) = try machine.authenticationCompleted(.failure(SASLFailure(.notAuthorized, "wrong password"), account: nil)) else {
            Issue.record("not counted against alice"); return
        }
        // Back to SASL: a new exchange may start, a stray response may not.
        #expect(condition { _ = try machine.receive(.element(element("response", Namespace.sasl))) } == .policyViolation)
        #expect(try machine.receive(auth("SCRAM-SHA-256")).kind == "authenticate")
    }

    @Test func aThrottledAttemptIsRefusedWithoutCountingAFailure() throws {
        var machine = try authenticating()
        guard case .refuse(_, throttled: true) = try machine.authenticationCompleted(.throttled(SASLFailure(.temporaryAuthFailure, "x"))) else {
            Issue.record("not a throttled refusal"); return
        }
        #expect(try machine.receive(auth("SCRAM-SHA-256")).kind == "authenticate")
    }

    // MARK: Binding and stanzas

    @Test func theRestartedStreamAcceptsBindOrResumeAndStanzasWaitForBinding() throws {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, authenticated: alice)
        _ = try machine.receive(header())
        let bind = element("iq", Namespace.client, [.init("type", "set"), .init("id", "1")], children: [.element(element("bind", Namespace.bind))])
        guard case .bind(bind, account: alice) = try machine.receive(.element(bind)) else { Issue.record("no bind"); return }
        #expect(condition { _ = try machine.receive(message()) } == .notAuthorized)
        guard case .resume("x", 3, alice) = try machine.receive(.element(element("resume", Namespace.streamManagement, [.init("previd", "x"), .init("h", "3")]))) else {
            Issue.record("no resume"); return
        }
        #expect(condition { _ = try machine.receive(.element(element("resume", Namespace.streamManagement))) } == .badFormat)
        let session = Session(jid: JID(alice, resource: "r"), bare: alice, streamID: "s")
        try machine.bound(session)
        guard case .stanza(_, let carrier) = try machine.receive(message()) else { Issue.record("no stanza"); return }
        #expect(carrier === session)
        #expect(try machine.receive(.element(element("r", Namespace.streamManagement))).kind == "ackRequest")
    }

    @Test func bindingOutsideTheRestartedStreamIsAnInternalError() throws {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        #expect(condition { try machine.bound(Session(jid: JID(alice, resource: "r"), bare: alice, streamID: "s")) } == .internalServerError)
    }

    @Test func negotiationElementsAndRestartsAfterBindingEndTheStream() throws {
        var (machine, _) = try established()
        #expect(condition { _ = try machine.receive(auth("PLAIN")) } == .policyViolation)
        #expect(condition { _ = try machine.receive(.element(element("foo", "urn:example"))) } == .unsupportedStanzaType)
        #expect(condition { _ = try machine.receive(header()) } == .policyViolation)
        #expect(machine.negotiationDeadlinePassed() == nil)
    }

    // MARK: Keep-alive and the end of the stream

    @Test func silenceBeforeBindingTimesOutAndAfterBindingAPingComesFirst() throws {
        var fresh = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        guard case .fail(let error) = fresh.idle() else { Issue.record("no timeout"); return }
        #expect(error == StreamError(.connectionTimeout, "silent before binding a resource"))
        var (machine, session) = try established()
        guard case .ping("srv-ping-1", let target) = machine.idle() else { Issue.record("no ping"); return }
        #expect(target === session)
        guard case .fail(let unanswered) = machine.idle() else { Issue.record("no timeout"); return }
        #expect(unanswered.text == "no answer to the server's ping")
        _ = try machine.receive(message())  // any read answers
        guard case .ping("srv-ping-2", _) = machine.idle() else { Issue.record("no second ping"); return }
    }

    @Test func aDeadLinkWaitsForResumptionButAnyOtherErrorOrAPeerCloseEndsTheSession() throws {
        var (dead, session) = try established()
        let failed = dead.fail(StreamError(.connectionTimeout, "no answer to the server's ping"))
        let timeout = try #require(failed)
        #expect(timeout.lost?.link === session && timeout.lost?.clean == false)
        #expect(!timeout.writeHeader)
        let again = dead.fail(StreamError(.policyViolation, "again"))
        #expect(again == nil)

        var (broken, _) = try established()
        let brokenClosing = broken.fail(StreamError(.policyViolation, "x"))
        #expect(brokenClosing?.lost?.clean == true)

        var (closed, _) = try established()
        guard case .close(let closing) = try closed.receive(.streamClosed) else { Issue.record("no close"); return }
        #expect(closing.error == nil && closing.lost?.clean == true)
        #expect(try closed.receive(message()).kind == "none")
    }

    @Test func stanzasDispatchedAfterTheStreamEndedGoBackToTheSessionItHandedOver() throws {
        var (machine, session) = try established()
        guard case .write(let target?) = machine.outboundRoute else { Issue.record("not writable"); return }
        #expect(target === session)
        let (release, lost) = machine.channelInactive()
        #expect(!release)  // never admitted
        #expect(lost === session)
        guard case .redeliver(let handedOver?) = machine.outboundRoute else { Issue.record("not redelivered"); return }
        #expect(handedOver === session)
    }

    @Test func anAdmittedConnectionIsReleasedOnce() {
        var machine = C2SStateMachine(role: requireTLS, domain: domain, secure: true)
        machine.connectionAdmitted()
        #expect(machine.channelInactive().releaseAdmission)
        #expect(!machine.channelInactive().releaseAdmission)
    }
}

extension XMPPStreamStateMachine.ReceiveAction {
    /// The case's name, for expectations that need no payload.
    var kind: String {
        switch self {
        case .none: "none"
        case .openStream: "openStream"
        case .close: "close"
        case .startTLS: "startTLS"
        case .authenticate: "authenticate"
        case .continueSCRAM: "continueSCRAM"
        case .write: "write"
        case .bind: "bind"
        case .legacySession: "legacySession"
        case .resume: "resume"
        case .enableStreamManagement: "enableStreamManagement"
        case .ackRequest: "ackRequest"
        case .ack: "ack"
        case .clientState: "clientState"
        case .stanza: "stanza"
        case .verifyDialback: "verifyDialback"
        case .answerDialbackVerify: "answerDialbackVerify"
        }
    }
}

extension XMPPStreamStateMachine.AuthenticationAction {
    var kind: String {
        switch self {
        case .none: "none"
        case .challenge: "challenge"
        case .succeed: "succeed"
        case .fail: "fail"
        case .refuse: "refuse"
        }
    }
}
