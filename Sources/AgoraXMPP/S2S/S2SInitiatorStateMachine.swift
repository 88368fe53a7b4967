internal import AgoraCore
internal import FoundationEssentials

/// One outbound server-to-server stream from the initiating server's side (RFC 6120 §4–§6,
/// XEP-0178, XEP-0220), without I/O: open the stream, STARTTLS, then SASL EXTERNAL when the
/// peer offers it (it does once our certificate chained to its anchors) or dialback when it
/// does not, then stanzas. A plain struct fed what the connection reads; it returns what to do.
///
/// The receiving side is `XMPPStreamStateMachine` with `S2SRole`, shared with c2s. This
/// side is a machine of its own because every step is the mirror image (we send what
/// that machine reads), which no role parameter expresses without making both unreadable.
///
/// A stream opened only to ask the peer whether a dialback key is its own (`.verify`)
/// stops after TLS: it sends `<db:verify/>`, reports the answer and closes (XEP-0220 §2.2).
struct S2SInitiatorStateMachine: Sendable {
    enum Purpose: Sendable, Equatable {
        /// A link that carries stanzas once authenticated.
        case stanzas
        /// Ask the peer (the authoritative server) whether `key`, which a server claiming its
        /// domain presented on our inbound stream `streamID`, is its own.
        case verify(streamID: String, key: String)
    }

    private enum State: Sendable, Equatable {
        case connecting
        /// Our header is sent; the peer's is awaited. `phase` says what was done so far.
        case awaitingHeader(Phase)
        case awaitingFeatures(Phase)
        case awaitingProceed
        case awaitingSASL
        case awaitingDialback
        case awaitingVerify
        case ready
        case closed
    }

    enum Phase: Sendable, Equatable { case plain, encrypted, authenticated }

    enum Action: Equatable {
        case none
        /// Write our stream header (the decoder was restarted when the phase needed it).
        case sendHeader
        case write(XMLElement)
        /// Write `<db:result/>` with the key for the peer's stream `streamID` (XEP-0220 §2.1.1).
        case sendDialbackKey(streamID: String)
        /// `<proceed/>` came: put TLS first in the pipeline, restart the decoder, send a header.
        case startTLS
        /// SASL succeeded: restart the decoder and send a new header (RFC 6120 §6.4.6).
        case restartAfterSASL
        /// Authenticated: stanzas may flow. `mechanism` is `external` or `dialback`.
        case ready(mechanism: String)
        /// The peer's answer to `.verify`: whether the key was its own. Then close.
        case verified(Bool)
        /// Give up on this stream (after our stream error, if any). `reason` is for the log
        /// and for whoever waits; `refused` marks the peer refusing us (not a network failure).
        case fail(reason: String, error: StreamError?, refused: Bool)
    }

    let local: String
    let remote: String
    let purpose: Purpose
    /// Whether we present a certificate (so EXTERNAL can work).
    let hasCertificate: Bool
    /// Whether dialback may be used when EXTERNAL is not offered or fails.
    let dialbackAllowed: Bool
    private var state: State = .connecting
    /// The `id` of the peer's current stream header (the dialback key is bound to it).
    private(set) var streamID: String?
    private var externalFailed = false

    init(local: String, remote: String, purpose: Purpose, hasCertificate: Bool, dialbackAllowed: Bool) {
        self.local = local
        self.remote = remote
        self.purpose = purpose
        self.hasCertificate = hasCertificate
        self.dialbackAllowed = dialbackAllowed
    }

    var isReady: Bool { state == .ready }

    mutating func connected() -> Action {
        state = .awaitingHeader(.plain)
        return .sendHeader
    }

    mutating func receive(_ event: XMLStreamEvent) -> Action {
        switch (state, event) {
        case (.closed, _):
            return .none
        case (_, .streamClosed):
            state = .closed
            return .fail(reason: "the peer closed the stream", error: nil, refused: false)
        case (.awaitingHeader(let phase), .streamOpened(let header)):
            guard header.name == "stream", header.namespace == Namespace.streams else {
                return fail("the peer's root element is not a stream", .invalidNamespace)
            }
            guard header[attribute: "version"]?.hasPrefix("1.") == true else { return fail("the peer does not speak XMPP 1.0", .unsupportedVersion) }
            if let from = header[attribute: "from"], from.lowercased() != remote {
                return fail("the peer answered as \(from.prefix(64))", .invalidFrom)
            }
            streamID = header[attribute: "id"]
            state = .awaitingFeatures(phase)
            return .none
        case (_, .streamOpened):
            return fail("a stream header out of turn", .policyViolation)
        case (_, .element(let element)):
            return received(element)
        }
    }

    private mutating func received(_ element: XMLElement) -> Action {
        if element.namespace == Namespace.streams, element.name == "error" {
            state = .closed
            let condition = element.elements.first { $0.namespace == Namespace.streamErrors }?.name ?? "undefined-condition"
            return .fail(reason: "the peer sent the stream error \(condition.prefix(64))", error: nil, refused: true)
        }
        switch state {
        case .awaitingFeatures(let phase) where element.namespace == Namespace.streams && element.name == "features":
            return features(element, phase: phase)
        case .awaitingProceed where element.namespace == Namespace.tls:
            guard element.name == "proceed" else { return refuse("the peer refused STARTTLS") }
            state = .awaitingHeader(.encrypted)
            return .startTLS
        case .awaitingSASL where element.namespace == Namespace.sasl:
            if element.name == "success" {
                state = .awaitingHeader(.authenticated)
                return .restartAfterSASL
            }
            externalFailed = true
            guard dialbackAllowed, let streamID else { return refuse("the peer refused our certificate (SASL EXTERNAL)") }
            state = .awaitingDialback
            return .sendDialbackKey(streamID: streamID)
        case .awaitingDialback where element.namespace == Namespace.dialback && element.name == "result":
            guard element[attribute: "type"] == "valid" else { return refuse("the peer did not accept our dialback key") }
            state = .ready
            return .ready(mechanism: "dialback")
        case .awaitingVerify where element.namespace == Namespace.dialback && element.name == "verify":
            guard case .verify(let id, _) = purpose, element[attribute: "id"] == id, element[attribute: "from"]?.lowercased() == remote else {
                return fail("a dialback verification answer for another stream", .invalidID)
            }
            state = .closed
            return .verified(element[attribute: "type"] == "valid")
        case .ready:
            return .none  // RFC 6120 streams are one-way: nothing but whitespace is expected back.
        default:
            return fail("unexpected <\(element.name.prefix(64))> during negotiation", .notAuthorized)
        }
    }

    private mutating func features(_ features: XMLElement, phase: Phase) -> Action {
        switch phase {
        case .plain:
            // RFC 6120 §5.3.1: we never send anything but STARTTLS in the clear.
            guard features.child("starttls", namespace: Namespace.tls) != nil else { return refuse("the peer does not offer STARTTLS") }
            state = .awaitingProceed
            return .write(XMLElement("starttls", namespace: Namespace.tls))
        case .encrypted:
            if case .verify(let id, let key) = purpose {
                state = .awaitingVerify
                return .write(XMLElement("verify", namespace: Namespace.dialback, attributes: [
                    .init("from", local), .init("to", remote), .init("id", id),
                ], children: [.text(key)]))
            }
            let mechanisms = features.child("mechanisms", namespace: Namespace.sasl)?.elements.map(\.text) ?? []
            if hasCertificate, !externalFailed, mechanisms.contains("EXTERNAL") {
                state = .awaitingSASL
                // XEP-0178 §3: the authorization identity is our domain.
                return .write(XMLElement("auth", namespace: Namespace.sasl, attributes: [.init("mechanism", "EXTERNAL")],
                                         children: [.text(Data(local.utf8).base64EncodedString())]))
            }
            guard dialbackAllowed, let streamID else { return refuse("the peer offers no way to authenticate that this gateway allows") }
            state = .awaitingDialback
            return .sendDialbackKey(streamID: streamID)
        case .authenticated:
            state = .ready
            return .ready(mechanism: "external")
        }
    }

    private mutating func fail(_ reason: String, _ condition: StreamError.Condition) -> Action {
        state = .closed
        return .fail(reason: reason, error: StreamError(condition, reason), refused: false)
    }

    private mutating func refuse(_ reason: String) -> Action {
        state = .closed
        return .fail(reason: reason, error: nil, refused: true)
    }
}
