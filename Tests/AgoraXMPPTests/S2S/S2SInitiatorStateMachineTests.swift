import AgoraCore
@testable import AgoraXMPP
import Foundation
import Testing

/// The initiating side of server-to-server streams, without a channel: STARTTLS first, then
/// EXTERNAL when offered, dialback when not (or when EXTERNAL fails), and the verification
/// streams of XEP-0220 §2.2.
struct S2SInitiatorStateMachineTests {
    func element(_ name: String, _ namespace: String, _ attributes: [XMLElement.Attribute] = [], children: [XMLElement] = []) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes, children: children.map { .element($0) })
    }

    func header(id: String = "stream-1", from: String = "city.test") -> XMLStreamEvent {
        .streamOpened(element("stream", Namespace.streams, [.init("id", id), .init("from", from), .init("version", "1.0")]))
    }

    func features(_ children: XMLElement...) -> XMLStreamEvent { .element(element("features", Namespace.streams, children: children)) }

    var startTLS: XMLElement { element("starttls", Namespace.tls) }

    func mechanisms(_ names: String...) -> XMLElement {
        element("mechanisms", Namespace.sasl, children: names.map { XMLElement("mechanism", namespace: Namespace.sasl, text: $0) })
    }

    func machine(_ purpose: S2SInitiatorStateMachine.Purpose = .stanzas, dialback: Bool = true) -> S2SInitiatorStateMachine {
        S2SInitiatorStateMachine(local: "gw1.test", remote: "city.test", purpose: purpose, hasCertificate: true, dialbackAllowed: dialback)
    }

    /// Through STARTTLS, up to the encrypted stream's features.
    func encrypted(_ purpose: S2SInitiatorStateMachine.Purpose = .stanzas, dialback: Bool = true, id: String = "stream-2") -> S2SInitiatorStateMachine {
        var m = machine(purpose, dialback: dialback)
        #expect(m.connected() == .sendHeader)
        #expect(m.receive(header(id: "stream-1")) == .none)
        #expect(m.receive(features(startTLS)) == .write(startTLS))
        #expect(m.receive(.element(element("proceed", Namespace.tls))) == .startTLS)
        #expect(m.receive(header(id: id)) == .none)
        return m
    }

    @Test func externalWhenOfferedThenARestartedStreamThenReady() {
        var m = encrypted()
        guard case .write(let auth) = m.receive(features(mechanisms("EXTERNAL"))) else { Issue.record("no auth"); return }
        #expect(auth.name == "auth" && auth[attribute: "mechanism"] == "EXTERNAL")
        #expect(auth.text == Data("gw1.test".utf8).base64EncodedString())   // XEP-0178 §3: our domain as authzid
        #expect(m.receive(.element(element("success", Namespace.sasl))) == .restartAfterSASL)
        #expect(m.receive(header(id: "stream-3")) == .none)
        #expect(m.receive(features()) == .ready(mechanism: "external"))
        #expect(m.isReady)
    }

    @Test func dialbackWhenExternalIsNotOfferedWithTheKeyBoundToTheEncryptedStream() {
        var m = encrypted(id: "encrypted-id")
        #expect(m.receive(features(element("dialback", Namespace.dialbackFeature))) == .sendDialbackKey(streamID: "encrypted-id"))
        #expect(m.receive(.element(element("result", Namespace.dialback, [.init("type", "valid")]))) == .ready(mechanism: "dialback"))
    }

    @Test func aFailedExternalFallsBackToDialbackUnlessCertificatesAreRequired() {
        var m = encrypted()
        _ = m.receive(features(mechanisms("EXTERNAL")))
        #expect(m.receive(.element(element("failure", Namespace.sasl))) == .sendDialbackKey(streamID: "stream-2"))
        var strict = encrypted(dialback: false)
        _ = strict.receive(features(mechanisms("EXTERNAL")))
        guard case .fail(_, nil, refused: true) = strict.receive(.element(element("failure", Namespace.sasl))) else { Issue.record("not refused"); return }
        var nothing = encrypted(dialback: false)
        guard case .fail(_, _, refused: true) = nothing.receive(features()) else { Issue.record("went on without a way to authenticate"); return }
    }

    @Test func anInvalidDialbackAnswerIsARefusal() {
        var m = encrypted()
        _ = m.receive(features())
        guard case .fail(_, _, refused: true) = m.receive(.element(element("result", Namespace.dialback, [.init("type", "invalid")]))) else {
            Issue.record("an invalid key was not a refusal"); return
        }
        #expect(!m.isReady)
    }

    @Test func nothingButStartTLSIsSentInTheClear() {
        var m = machine()
        _ = m.connected()
        _ = m.receive(header())
        guard case .fail(_, _, refused: true) = m.receive(features(mechanisms("EXTERNAL"))) else { Issue.record("went on without TLS"); return }
    }

    @Test func aPeerAnsweringAsAnotherDomainIsInvalidFrom() {
        var m = machine()
        _ = m.connected()
        guard case .fail(_, let error?, _) = m.receive(header(from: "evil.test")) else { Issue.record("accepted"); return }
        #expect(error.condition == .invalidFrom)
    }

    @Test func aVerificationStreamAsksAboutOneKeyAndReportsTheAnswer() {
        var m = encrypted(.verify(streamID: "inbound-7", key: "k3y"))
        guard case .write(let verify) = m.receive(features()) else { Issue.record("no db:verify"); return }
        #expect(verify.namespace == Namespace.dialback && verify.name == "verify")
        #expect(verify[attribute: "id"] == "inbound-7" && verify[attribute: "from"] == "gw1.test" && verify[attribute: "to"] == "city.test" && verify.text == "k3y")
        let answer = element("verify", Namespace.dialback, [.init("from", "city.test"), .init("to", "gw1.test"), .init("id", "inbound-7"), .init("type", "valid")])
        #expect(m.receive(.element(answer)) == .verified(true))
        var other = encrypted(.verify(streamID: "inbound-7", key: "k3y"))
        _ = other.receive(features())
        let wrongID = element("verify", Namespace.dialback, [.init("from", "city.test"), .init("id", "inbound-8"), .init("type", "valid")])
        guard case .fail(_, let error?, _) = other.receive(.element(wrongID)) else { Issue.record("an answer for another stream was taken"); return }
        #expect(error.condition == .invalidID)
    }

    @Test func aStreamErrorFromThePeerEndsTheLinkAsARefusal() {
        var m = encrypted()
        let error = element("error", Namespace.streams, children: [XMLElement("host-unknown", namespace: Namespace.streamErrors)])
        guard case .fail(let reason, nil, refused: true) = m.receive(.element(error)) else { Issue.record("not a refusal"); return }
        #expect(reason.contains("host-unknown"))
        #expect(m.receive(.element(element("proceed", Namespace.tls))) == .none)   // closed: nothing more
    }
}
