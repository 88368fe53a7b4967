public import AgoraCore

/// The negotiation state machine of one c2s stream (RFC 6120 §4–§7), without I/O:
/// which features are offered in each phase and which top-level elements each phase
/// accepts. `C2SConnection` performs the actions; unit tests drive this directly.
public struct StreamNegotiation: Sendable {
    public enum Phase: Sendable, Equatable {
        /// Before TLS where TLS is required: only `<starttls/>` is acceptable.
        case needsTLS
        /// SASL offered (TLS done, or not required).
        case sasl
        /// A SASL exchange is in progress.
        case authenticating
        /// SASL succeeded; the client must restart the stream.
        case authenticated(BareJID)
        /// The restarted stream offers resource binding and stream-management resumption.
        case bind(BareJID)
        /// A resource is bound: stanzas flow.
        case established(JID)
    }

    /// What the connection should do with one top-level element.
    public enum Step: Sendable, Equatable {
        case startTLS
        case auth(mechanism: String, initial: String)
        case saslResponse(String)
        case saslAbort
        case bind(XMLElement)
        case legacySession(XMLElement)
        case resume(previd: String, handled: UInt32)
        case enableStreamManagement(resume: Bool)
        case ackRequest
        case ack(UInt32)
        case stanza(XMLElement)
        /// Answer with a SASL failure and stay in the SASL phase.
        case saslFailure(SASLFailure)
        /// Answer with a XEP-0198 `<failed/>` and go on.
        case streamManagementFailure(StanzaError.Condition, String)
    }

    public struct Policy: Sendable, Equatable {
        public var tlsRequired: Bool
        public var tlsAvailable: Bool
        public var plainEnabled: Bool
        public init(tlsRequired: Bool, tlsAvailable: Bool, plainEnabled: Bool) {
            self.tlsRequired = tlsRequired
            self.tlsAvailable = tlsAvailable
            self.plainEnabled = plainEnabled
        }
    }

    public let policy: Policy
    public private(set) var phase: Phase
    public private(set) var secure: Bool
    /// A verified client certificate was presented, so EXTERNAL can be offered.
    public var hasClientCertificate = false

    public init(policy: Policy, secure: Bool) {
        self.policy = policy
        self.secure = secure
        self.phase = (policy.tlsRequired && !secure) ? .needsTLS : .sasl
    }

    public var mechanisms: [String] {
        var result = SCRAMHash.allCases.map(\.rawValue)
        if secure, policy.plainEnabled { result.append("PLAIN") }
        if secure, hasClientCertificate { result.append("EXTERNAL") }
        return result
    }

    /// The `<stream:features/>` for the current phase.
    public var features: XMLElement {
        var features = XMLElement("features", namespace: Namespace.streams)
        switch phase {
        case .needsTLS:
            features.append(XMLElement("starttls", namespace: Namespace.tls, children: [.element(XMLElement("required", namespace: Namespace.tls))]))
        case .sasl, .authenticating:
            if !secure, policy.tlsAvailable { features.append(XMLElement("starttls", namespace: Namespace.tls)) }
            var mechanisms = XMLElement("mechanisms", namespace: Namespace.sasl)
            for name in self.mechanisms { mechanisms.append(XMLElement("mechanism", namespace: Namespace.sasl, text: name)) }
            features.append(mechanisms)
        case .authenticated, .bind:
            features.append(XMLElement("bind", namespace: Namespace.bind))
            features.append(XMLElement("session", namespace: Namespace.session, children: [.element(XMLElement("optional", namespace: Namespace.session))]))
            features.append(XMLElement("sm", namespace: Namespace.streamManagement))
        case .established:
            break
        }
        return features
    }

    /// Classifies `element` in the current phase; a stream error ends the stream.
    public func step(for element: XMLElement) throws(StreamError) -> Step {
        switch (element.namespace, element.name) {
        case (Namespace.tls, "starttls"):
            guard !secure, policy.tlsAvailable, phase == .needsTLS || phase == .sasl else {
                throw StreamError(.policyViolation, "STARTTLS is not available at this point")
            }
            return .startTLS
        case (Namespace.sasl, "auth"):
            guard phase != .needsTLS else { return .saslFailure(SASLFailure(.encryptionRequired, "STARTTLS first")) }
            guard phase == .sasl else { throw StreamError(.policyViolation, "SASL is not available at this point") }
            guard let mechanism = element[attribute: "mechanism"], mechanisms.contains(mechanism) else {
                return .saslFailure(SASLFailure(.invalidMechanism, "mechanism not offered"))
            }
            return .auth(mechanism: mechanism, initial: element.text)
        case (Namespace.sasl, "response"):
            guard phase == .authenticating else { throw StreamError(.policyViolation, "no SASL exchange in progress") }
            return .saslResponse(element.text)
        case (Namespace.sasl, "abort"):
            guard phase == .authenticating else { throw StreamError(.policyViolation, "no SASL exchange in progress") }
            return .saslAbort
        case (Namespace.streamManagement, "resume"):
            guard case .bind = phase else {
                return .streamManagementFailure(.unexpectedRequest, "resume only after authentication and before binding")
            }
            guard let previd = element[attribute: "previd"], let handled = element[attribute: "h"].flatMap(UInt32.init) else {
                throw StreamError(.badFormat, "resume needs previd and h")
            }
            return .resume(previd: previd, handled: handled)
        case (Namespace.streamManagement, "enable"):
            guard case .established = phase else { return .streamManagementFailure(.unexpectedRequest, "enable only after binding a resource") }
            return .enableStreamManagement(resume: ["true", "1"].contains(element[attribute: "resume"] ?? ""))
        case (Namespace.streamManagement, "r"):
            guard case .established = phase else { throw StreamError(.unsupportedStanzaType, "stream management is not enabled") }
            return .ackRequest
        case (Namespace.streamManagement, "a"):
            guard case .established = phase, let handled = element[attribute: "h"].flatMap(UInt32.init) else {
                throw StreamError(.badFormat, "an ack needs h")
            }
            return .ack(handled)
        case (Namespace.client, "iq"), (Namespace.client, "message"), (Namespace.client, "presence"):
            switch phase {
            case .established:
                return .stanza(element)
            case .bind where element.name == "iq":
                if element.child("bind", namespace: Namespace.bind) != nil, element[attribute: "type"] == "set" { return .bind(element) }
                if element.child("session", namespace: Namespace.session) != nil { return .legacySession(element) }
                throw StreamError(.notAuthorized, "bind a resource before sending stanzas")
            default:
                throw StreamError(.notAuthorized, "authenticate before sending stanzas")
            }
        default:
            if case .established = phase { throw StreamError(.unsupportedStanzaType, "unsupported top-level element <\(element.name.prefix(64))>") }
            throw StreamError(.notAuthorized, "unexpected <\(element.name.prefix(64))> during negotiation")
        }
    }

    // MARK: Transitions

    public mutating func tlsEstablished() {
        secure = true
        phase = .sasl
    }

    public mutating func authenticationStarted() { phase = .authenticating }
    public mutating func authenticationFailed() { phase = .sasl }
    public mutating func authenticated(_ jid: BareJID) { phase = .authenticated(jid) }

    /// The client opened the restarted stream after SASL.
    public mutating func streamRestarted() {
        if case .authenticated(let jid) = phase { phase = .bind(jid) }
    }

    public mutating func bound(_ jid: JID) { phase = .established(jid) }
}
