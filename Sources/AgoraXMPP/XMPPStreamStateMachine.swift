internal import AgoraCore

/// One XMPP stream from the receiving server's side (RFC 6120 §4–§7), without I/O: the
/// state of TLS, SASL, the restarted stream, binding, keep-alive pings and the stream's end,
/// in one place. A plain struct in the shape of NIOSOCKS's `ServerStateMachine`: the
/// connection handler feeds it events (what it read, the TLS handshake, the outcome of
/// authentication work, a bound session, a failure, silence, the channel going away) and
/// performs the actions they return; it holds no channel, so tests drive it directly.
///
/// Events that the peer cannot legitimately cause in the current state throw a
/// `StreamError` with the RFC 6120 §4.9.3 condition; the caller answers with `fail(_:)`,
/// which ends the stream. Expected refusals (a SASL failure, a XEP-0198 `<failed/>`) are
/// actions, not errors: the stream goes on.
///
/// Authentication work (key look-ups, PBKDF2) runs off the event loop. From `<auth>` until
/// `authenticationCompleted(_:)` the machine is `authenticating` and holds what else is read
/// (at most `maxHeldEvents`, then `policy-violation`), so nothing is processed out of order;
/// `nextHeldEvent()` gives it back after the outcome. An outcome that arrives after the
/// stream ended is dropped.
///
/// The role (`XMPPStreamRole`) is the seam for server-to-server streams: see there.
struct XMPPStreamStateMachine<Role: XMPPStreamRole>: Sendable {
    /// Top-level elements held while authentication work runs; a client waiting for a SASL
    /// answer sends nothing, so more than this is abuse.
    static var maxHeldEvents: Int { 8 }

    private enum State: Sendable {
        /// TLS is required and not yet started: only `<starttls/>` is acceptable.
        case awaitingTLS
        /// SASL is offered (TLS done, or not required).
        case awaitingAuthentication
        /// Authentication work is running off the event loop. `account` is the one a SCRAM
        /// exchange named, so that a failure counts against it.
        case authenticating(account: String?)
        /// A SCRAM server-first message was sent; the client's response is awaited.
        case scramChallenged(SCRAMServer, account: String)
        /// SASL succeeded; the peer must open a new stream (RFC 6120 §6.4.6).
        case authenticated(Role.Identity)
        /// The stream restarted after SASL: c2s binds a resource or resumes a session here.
        case restarted(Role.Identity)
        /// Stanzas flow through `link`. `outstandingPing` is the id of the server's ping
        /// while one is unanswered.
        case established(Role.Link, outstandingPing: String?)
        /// The stream is ending or has ended: nothing more is read. Stanzas still
        /// dispatched to this connection go back to `handedOver`.
        case closed(handedOver: Role.Link?)
    }

    let role: Role
    /// The domain this server serves: the acceptable `to` of a stream header (with the
    /// role's `otherDomains`, for s2s streams to the server's components).
    let domain: String
    /// The domain the peer addressed (`to` of its header; `domain` when it named none): ours
    /// in every answer on this stream, and what dialback authenticates us to.
    private(set) var localDomain: String
    private var state: State
    /// Whether the stream is encrypted (direct TLS, or after STARTTLS).
    private(set) var secure: Bool
    /// The peer the stream header named (`from`), when the role requires one: the s2s
    /// domain that SASL EXTERNAL or dialback must authenticate.
    private(set) var peerDomain: String?
    /// Whether the TLS peer presented a verified certificate (so EXTERNAL is offered).
    private var clientCertificate = false
    /// Whether this stream's header has been answered with ours; each restart needs a new one.
    private var responseHeaderSent = false
    /// Whether the connection counts against the connection limit (released when it goes).
    private var isAdmitted = false
    /// What arrived while authentication work ran, in order.
    private var held: [XMLStreamEvent] = []
    private var pingsSent = 0

    init(role: Role, domain: String, secure: Bool) {
        self.role = role
        self.domain = domain
        self.localDomain = domain
        self.secure = secure
        self.state = (role.tlsRequired && !secure) ? .awaitingTLS : .awaitingAuthentication
    }

    /// A stream whose SASL exchange already took place: the next header restarts it. For the
    /// fuzz harness, which cannot compute SCRAM proofs.
    init(role: Role, domain: String, authenticated identity: Role.Identity) {
        self.init(role: role, domain: domain, secure: true)
        self.state = .authenticated(identity)
    }

    // MARK: Actions

    /// What to do with one event read from the stream.
    enum ReceiveAction {
        /// Nothing: the event is held, or the stream is closing.
        case none
        /// Answer a stream header: our header (unless already sent), then these features.
        case openStream(writeHeader: Bool, features: XMLElement)
        /// End the stream.
        case close(Closing)
        /// Write `<proceed/>`, put TLS first in the pipeline, restart the decoder.
        case startTLS
        /// Run the mechanism's first step off the event loop and report the outcome.
        case authenticate(mechanism: String, initialResponse: String)
        /// Finish the SCRAM exchange with the client's response and report the outcome.
        case continueSCRAM(SCRAMServer, response: String)
        /// Write a negotiation element (a SASL failure, a XEP-0198 `<failed/>`); go on.
        case write(XMLElement)
        /// Bind a resource for `account` and report the session with `bound(_:)`.
        case bind(XMLElement, account: Role.Identity)
        /// The RFC 3921 session IQ: answer it with an empty result.
        case legacySession(XMLElement)
        /// XEP-0198 §5: take over `account`'s session `previd`, reporting it with `bound(_:)`.
        case resume(previd: String, handled: UInt32, account: Role.Identity)
        case enableStreamManagement(resume: Bool, Role.Link)
        case ackRequest(Role.Link)
        case ack(UInt32, Role.Link)
        /// XEP-0352: the client says it is in use (active) or in the background (inactive).
        case clientState(active: Bool, Role.Link)
        case stanza(XMLElement, Role.Link)
        /// XEP-0220 §2.1.2: the peer asks to be authenticated as `from` with `key`; verify it
        /// with the authoritative server and report with `dialbackCompleted(valid:)`.
        case verifyDialback(from: String, key: String)
        /// XEP-0220 §2.2.2: another server asks whether a key it received in our name is ours.
        case answerDialbackVerify(XMLElement)
    }

    /// How the stream ends.
    struct Closing {
        /// The stream error to send before the closing tag; nil when the peer closed.
        var error: StreamError?
        /// Whether our header must come first (an error before we answered the stream).
        var writeHeader: Bool
        /// The link this connection carried: it ends with it when `clean`, or waits for
        /// resumption when the link was lost (no answer to a ping).
        var lost: (link: Role.Link, clean: Bool)?
    }

    /// What to do with the outcome of authentication work.
    enum AuthenticationAction {
        /// The stream ended while the work ran: nothing.
        case none
        /// Send the SCRAM server-first message as a `<challenge/>`.
        case challenge(serverFirst: [UInt8])
        /// Send `<success/>` and restart the decoder: the peer opens a new stream.
        case succeed(Role.Identity, additionalData: [UInt8]?)
        /// Send the failure; count it against the address and, when known, the account.
        case fail(SASLFailure, account: String?)
        /// Send the failure without counting it (throttled: counted as such).
        case refuse(SASLFailure, throttled: Bool)
    }

    /// What to do when the peer has been silent for a ping interval.
    enum IdleAction {
        case none
        case fail(StreamError)
        /// Send a ping (XEP-0199) with this id to the link's peer.
        case ping(id: String, Role.Link)
    }

    /// Where a stanza dispatched to this connection goes.
    enum OutboundRoute {
        /// Write it; through the link's bookkeeping when there is one.
        case write(Role.Link?)
        /// The stream is ending: give it back to the link this connection handed over.
        case redeliver(Role.Link?)
    }

    // MARK: Connection events

    /// The connection limiter let the connection in: it is released when the channel goes.
    mutating func connectionAdmitted() { isAdmitted = true }

    /// The TLS handshake finished; a verified client certificate makes EXTERNAL available.
    mutating func tlsHandshakeCompleted(clientCertificate: Bool) {
        self.clientCertificate = clientCertificate
    }

    /// One event read from the stream.
    mutating func receive(_ event: XMLStreamEvent) throws(StreamError) -> ReceiveAction {
        switch state {
        case .closed:
            return .none
        case .authenticating:
            guard held.count < Self.maxHeldEvents else {
                throw StreamError(.policyViolation, "too much sent while authentication is in progress")
            }
            held.append(event)
            return .none
        case .established(let link, .some):
            state = .established(link, outstandingPing: nil)  // any read answers a ping
        default:
            break
        }
        switch event {
        case .streamOpened(let header): return try streamOpened(header)
        case .element(let element): return try received(element)
        case .streamClosed:
            guard let closing = close(error: nil, clean: true) else { return .none }
            return .close(closing)
        }
    }

    /// The outcome of the work `.authenticate` or `.continueSCRAM` asked for.
    mutating func authenticationCompleted(_ outcome: SASLOutcome<Role.Identity>) throws(StreamError) -> AuthenticationAction {
        let pendingAccount: String?
        switch state {
        case .closed: return .none
        case .authenticating(let account): pendingAccount = account
        default: throw StreamError(.internalServerError, "an authentication outcome arrived outside authentication")
        }
        switch outcome {
        case .challenge(let exchange, let account, let serverFirst):
            state = .scramChallenged(exchange, account: account)
            return .challenge(serverFirst: serverFirst)
        case .success(let identity, let additionalData):
            state = .authenticated(identity)
            responseHeaderSent = false
            held.removeAll()  // sent on the old stream, which a conforming peer never does
            return .succeed(identity, additionalData: additionalData)
        case .failure(let failure, let account):
            state = .awaitingAuthentication
            return .fail(failure, account: account ?? pendingAccount)
        case .throttled(let failure):
            state = .awaitingAuthentication
            return .refuse(failure, throttled: true)
        case .refused(let failure):
            state = .awaitingAuthentication
            return .refuse(failure, throttled: false)
        }
    }

    /// The outcome of the `.verifyDialback` work: the authoritative server said the key is
    /// (or is not) valid for the peer domain. Valid: the stream is authenticated with no
    /// restart (XEP-0220 §2.4), and the handler reports its link with `bound(_:)`.
    mutating func dialbackCompleted(valid: Bool) throws(StreamError) -> AuthenticationAction {
        switch state {
        case .closed: return .none
        case .authenticating: break
        default: throw StreamError(.internalServerError, "a dialback outcome arrived outside authentication")
        }
        guard valid, let peer = peerDomain, let identity = role.dialbackIdentity(peer) else {
            state = .awaitingAuthentication
            return .refuse(SASLFailure(.notAuthorized, "the dialback key did not verify"), throttled: false)
        }
        state = .restarted(identity)
        return .succeed(identity, additionalData: nil)
    }

    /// The next event held during authentication, once its outcome is in (nil while it
    /// is still pending, or when nothing is held).
    mutating func nextHeldEvent() -> XMLStreamEvent? {
        switch state {
        case .authenticating, .closed: return nil
        default: return held.isEmpty ? nil : held.removeFirst()
        }
    }

    /// `link` was bound (or resumed) for the identity `.bind` or `.resume` named: stanzas flow.
    mutating func bound(_ link: Role.Link) throws(StreamError) {
        guard case .restarted = state else {
            throw StreamError(.internalServerError, "a session was bound outside resource binding")
        }
        state = .established(link, outstandingPing: nil)
    }

    /// Ends the stream with `error` (RFC 6120 §4.9.1.1); nil when it is already ending.
    /// A dead link (connection-timeout) is what XEP-0198 resumption is for; any other error
    /// ends the link too.
    mutating func fail(_ error: StreamError) -> Closing? {
        close(error: error, clean: error.condition != .connectionTimeout)
    }

    /// The negotiation deadline passed: the error to fail with, unless stanzas flow already.
    func negotiationDeadlinePassed() -> StreamError? {
        switch state {
        case .established, .closed: nil
        default: StreamError(.connectionTimeout, "stream negotiation took too long")
        }
    }

    /// The peer was silent for a ping interval: ping it; silent for another: it is gone.
    mutating func idle() -> IdleAction {
        switch state {
        case .closed:
            return .none
        case .established(_, .some):
            return .fail(StreamError(.connectionTimeout, "no answer to the server's ping"))
        case .established(let link, nil):
            pingsSent += 1
            let id = "srv-ping-\(pingsSent)"
            state = .established(link, outstandingPing: id)
            return .ping(id: id, link)
        default:
            return .fail(StreamError(.connectionTimeout, "silent before binding a resource"))
        }
    }

    /// The channel went away: whether to release its admission, and the link it carried,
    /// which is lost (not cleanly ended: it may be resumed).
    mutating func channelInactive() -> (releaseAdmission: Bool, lost: Role.Link?) {
        let release = isAdmitted
        isAdmitted = false
        held.removeAll()
        switch state {
        case .established(let link, _):
            state = .closed(handedOver: link)
            return (release, link)
        case .closed:
            return (release, nil)
        default:
            state = .closed(handedOver: nil)
            return (release, nil)
        }
    }

    /// The link moved to another connection (a resumption took it over): this one closes
    /// without a stream error and without ending the link.
    mutating func abandoned() {
        if case .established(let link, _) = state {
            state = .closed(handedOver: link)
        } else {
            state = .closed(handedOver: nil)
        }
        held.removeAll()
    }

    // MARK: Queries

    /// Where a stanza dispatched to this connection goes now.
    var outboundRoute: OutboundRoute {
        switch state {
        case .established(let link, _): .write(link)
        case .closed(let handedOver): .redeliver(handedOver)
        default: .write(nil)
        }
    }

    /// The link stanzas flow through, or the one handed over when the stream ended.
    var link: Role.Link? {
        switch state {
        case .established(let link, _): link
        case .closed(let handedOver): handedOver
        default: nil
        }
    }

    /// The identity authenticated, while the stream waits for its link (c2s: a resource to
    /// bind; s2s: nothing, the handler binds at once).
    var restartedIdentity: Role.Identity? {
        if case .restarted(let identity) = state { identity } else { nil }
    }

    /// The SASL mechanisms offered now.
    var mechanisms: [String] { role.mechanisms(secure: secure, clientCertificate: clientCertificate) }

    /// The `<stream:features/>` for the current state.
    var features: XMLElement {
        var features = XMLElement("features", namespace: Namespace.streams)
        switch state {
        case .awaitingTLS:
            features.append(XMLElement("starttls", namespace: Namespace.tls, children: [.element(XMLElement("required", namespace: Namespace.tls))]))
        case .awaitingAuthentication, .authenticating, .scramChallenged:
            if !secure, role.tlsAvailable { features.append(XMLElement("starttls", namespace: Namespace.tls)) }
            let offered = self.mechanisms
            if !offered.isEmpty || !role.offersDialback {
                var mechanisms = XMLElement("mechanisms", namespace: Namespace.sasl)
                for name in offered { mechanisms.append(XMLElement("mechanism", namespace: Namespace.sasl, text: name)) }
                features.append(mechanisms)
            }
            if role.offersDialback, secure {
                // XEP-0220 §2.1: dialback, with XEP-0220 §2.4 errors understood.
                features.append(XMLElement("dialback", namespace: Namespace.dialbackFeature, children: [.element(XMLElement("errors", namespace: Namespace.dialbackFeature))]))
            }
        case .authenticated, .restarted:
            for feature in role.featuresAfterAuthentication() { features.append(feature) }
        case .established, .closed:
            break
        }
        return features
    }

    // MARK: Transitions

    /// RFC 6120 §4.7: the header names the streams namespace, this domain, version 1.x.
    private mutating func streamOpened(_ header: XMLElement) throws(StreamError) -> ReceiveAction {
        guard header.name == "stream", header.namespace == Namespace.streams else {
            throw StreamError(.invalidNamespace, "the root element must be <stream:stream> in \(Namespace.streams)")
        }
        if let to = header[attribute: "to"]?.lowercased() {
            guard to == domain || role.otherDomains.contains(to) else { throw StreamError(.hostUnknown, "this server serves \(domain) only") }
            if responseHeaderSent, to != localDomain { throw StreamError(.hostUnknown, "the stream was opened to \(localDomain)") }
            localDomain = to
        }
        guard let version = header[attribute: "version"], version.hasPrefix("1.") else {
            throw StreamError(.unsupportedVersion, "XMPP 1.0 streams only")
        }
        if role.requiresPeerDomain {
            // RFC 6120 §4.7.1: the initiating server names itself; a restart may not change it.
            guard let from = header[attribute: "from"]?.lowercased(), (try? BareJID.validateDomain(from, original: from)) != nil else {
                throw StreamError(.invalidFrom, "a server-to-server stream must name its domain in 'from'")
            }
            if let peerDomain, peerDomain != from { throw StreamError(.invalidFrom, "the stream was opened from \(peerDomain)") }
            guard from != domain, !role.otherDomains.contains(from) else { throw StreamError(.invalidFrom, "\(from) is this server") }
            peerDomain = from
        }
        switch state {
        case .authenticated(let identity): state = .restarted(identity)
        case .established: throw StreamError(.policyViolation, "the stream cannot be restarted now")
        default: break
        }
        let writeHeader = !responseHeaderSent
        responseHeaderSent = true
        return .openStream(writeHeader: writeHeader, features: features)
    }

    /// Classifies one top-level element in the current state (RFC 6120 §5–§8, XEP-0198).
    private mutating func received(_ element: XMLElement) throws(StreamError) -> ReceiveAction {
        let name = element.name
        // Stanzas first: they are nearly everything an established stream reads.
        if element.namespace == role.contentNamespace, name == "message" || name == "iq" || name == "presence" {
            return try stanza(element)
        }
        switch (element.namespace, name) {
        case (Namespace.tls, "starttls"):
            let beforeSASL: Bool
            switch state {
            case .awaitingTLS, .awaitingAuthentication: beforeSASL = true
            default: beforeSASL = false
            }
            guard beforeSASL, !secure, role.tlsAvailable else { throw StreamError(.policyViolation, "STARTTLS is not available at this point") }
            // RFC 6120 §5.4.3.3: after <proceed/> both sides start over on TLS.
            secure = true
            state = .awaitingAuthentication
            responseHeaderSent = false
            return .startTLS
        case (Namespace.sasl, "auth"):
            if case .awaitingTLS = state { return .write(SASLFailure(.encryptionRequired, "STARTTLS first").element) }
            guard case .awaitingAuthentication = state else { throw StreamError(.policyViolation, "SASL is not available at this point") }
            guard let mechanism = element[attribute: "mechanism"], mechanisms.contains(mechanism) else {
                return .write(SASLFailure(.invalidMechanism, "mechanism not offered").element)
            }
            state = .authenticating(account: nil)
            return .authenticate(mechanism: mechanism, initialResponse: element.text)
        case (Namespace.sasl, "response"):
            guard case .scramChallenged(let exchange, let account) = state else { throw StreamError(.policyViolation, "no SASL exchange in progress") }
            state = .authenticating(account: account)
            return .continueSCRAM(exchange, response: element.text)
        case (Namespace.sasl, "abort"):
            guard case .scramChallenged = state else { throw StreamError(.policyViolation, "no SASL exchange in progress") }
            state = .awaitingAuthentication
            return .write(SASLFailure(.aborted, "client aborted").element)
        case (Namespace.streamManagement, "resume"):
            guard role.bindsResources, case .restarted(let account) = state else {
                return .write(streamManagementFailure(.unexpectedRequest, "resume only after authentication and before binding"))
            }
            guard let previd = element[attribute: "previd"], let handled = element[attribute: "h"].flatMap(UInt32.init) else {
                throw StreamError(.badFormat, "resume needs previd and h")
            }
            return .resume(previd: previd, handled: handled, account: account)
        case (Namespace.streamManagement, "enable"):
            guard case .established(let link, _) = state else {
                return .write(streamManagementFailure(.unexpectedRequest, "enable only after binding a resource"))
            }
            return .enableStreamManagement(resume: ["true", "1"].contains(element[attribute: "resume"] ?? ""), link)
        case (Namespace.streamManagement, "r"):
            guard case .established(let link, _) = state else { throw StreamError(.unsupportedStanzaType, "stream management is not enabled") }
            return .ackRequest(link)
        case (Namespace.clientState, "active"), (Namespace.clientState, "inactive"):
            guard role.bindsResources, case .established(let link, _) = state else {
                throw StreamError(.unsupportedStanzaType, "client state indication comes after binding a resource")
            }
            return .clientState(active: name == "active", link)
        case (Namespace.streams, "error"):
            // RFC 6120 §4.9.1.2: the peer ends its stream with an error; we close ours without one.
            guard let closing = close(error: nil, clean: true) else { return .none }
            return .close(closing)
        case (Namespace.dialback, "result") where role.offersDialback:
            guard case .awaitingAuthentication = state, secure else {
                throw StreamError(.policyViolation, "dialback is available after STARTTLS and before authentication")
            }
            guard element[attribute: "to"]?.lowercased() == localDomain else { throw StreamError(.hostUnknown, "this stream is to \(localDomain)") }
            guard let from = element[attribute: "from"]?.lowercased(), from == peerDomain else {
                throw StreamError(.invalidFrom, "dialback must authenticate the domain the stream was opened from")
            }
            state = .authenticating(account: nil)
            return .verifyDialback(from: from, key: element.text)
        case (Namespace.dialback, "verify"):
            // Asked by a server that received a key in our name; no authentication needed
            // (it proves nothing about the asker), but never in the clear.
            switch state {
            case .awaitingAuthentication where secure, .established: return .answerDialbackVerify(element)
            default: throw StreamError(.policyViolation, "dialback verification is available after STARTTLS")
            }
        case (Namespace.streamManagement, "a"):
            guard case .established(let link, _) = state, let handled = element[attribute: "h"].flatMap(UInt32.init) else {
                throw StreamError(.badFormat, "an ack needs h")
            }
            return .ack(handled, link)
        default:
            break
        }
        if case .established = state { throw StreamError(.unsupportedStanzaType, "unsupported top-level element <\(name.prefix(64))>") }
        throw StreamError(.notAuthorized, "unexpected <\(name.prefix(64))> during negotiation")
    }

    private func stanza(_ element: XMLElement) throws(StreamError) -> ReceiveAction {
        switch state {
        case .established(let link, _):
            try role.admit(element, on: link)
            return .stanza(element, link)
        case .restarted(let account) where role.bindsResources && element.name == "iq":
            if element.child("bind", namespace: Namespace.bind) != nil, element[attribute: "type"] == "set" { return .bind(element, account: account) }
            if element.child("session", namespace: Namespace.session) != nil { return .legacySession(element) }
            throw StreamError(.notAuthorized, "bind a resource before sending stanzas")
        default:
            throw StreamError(.notAuthorized, "authenticate before sending stanzas")
        }
    }

    private mutating func close(error: StreamError?, clean: Bool) -> Closing? {
        let lost: (link: Role.Link, clean: Bool)?
        switch state {
        case .closed:
            return nil
        case .established(let link, _):
            lost = (link, clean)
            state = .closed(handedOver: link)
        default:
            lost = nil
            state = .closed(handedOver: nil)
        }
        held.removeAll()
        let writeHeader = error != nil && !responseHeaderSent
        responseHeaderSent = true
        return Closing(error: error, writeHeader: writeHeader, lost: lost)
    }
}

/// XEP-0198 `<failed/>` with a stanza-error condition (and why); the stream goes on.
func streamManagementFailure(_ condition: StanzaError.Condition, _ text: String?) -> XMLElement {
    var failed = XMLElement("failed", namespace: Namespace.streamManagement, children: [
        .element(XMLElement(condition.rawValue, namespace: Namespace.stanzaErrors)),
    ])
    if let text { failed.append(XMLElement("text", namespace: Namespace.stanzaErrors, text: text)) }
    return failed
}
