internal import AgoraCore
internal import FoundationEssentials
internal import Logging
internal import NIOCore
internal import NIOSSL
internal import NIOTLS

/// One client-to-server connection: drives `StreamNegotiation` (TLS, SASL, bind, resume),
/// then hands stanzas to the router and writes what the router delivers.
///
/// Runs on its channel's event loop only. Writes made while a read is being processed are
/// flushed once at `channelReadComplete`; deliveries from other sessions are coalesced
/// into one flush per event-loop tick, so a burst costs one syscall, not one per stanza.
final class C2SConnection: ChannelInboundHandler, SessionConnection {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = ByteBuffer

    private let server: XMPPServerContext
    private let decoder: XMPPStreamDecoder
    private var negotiation: StreamNegotiation
    private var context: ChannelHandlerContext?
    private var address = "unknown"
    private var admitted = false
    private var headerSent = false
    private var closing = false
    private var scram: SCRAMServer?
    private var session: Session?
    private var reading = false
    private var flushScheduled = false
    private var outstandingPing: String?
    private var negotiationTimer: Scheduled<Void>?
    /// Closes the socket if a closing stream's last write never completes; cancelled (and its
    /// hold on the channel released) as soon as the channel goes away.
    private var closeTimer: Scheduled<Void>?
    private var pingCounter = 0
    /// Whether the session ends with this connection; a timed-out link keeps a resumable one.
    private var cleanEnd = false
    /// The session this connection handed over to a resumed stream: late writes go back to it.
    private var handedOver: Session?

    /// Stanzas a client may leave unacknowledged (XEP-0198) before its stream is ended.
    static let maxUnacked = 5000
    /// Bytes queued for a client that does not read before it is cut off.
    static let maxBufferedBytes = 4 << 20

    init(server: XMPPServerContext, decoder: XMPPStreamDecoder, directTLS: Bool) {
        self.server = server
        self.decoder = decoder
        let configuration = server.configuration
        negotiation = StreamNegotiation(
            policy: .init(tlsRequired: configuration.tlsRequired, tlsAvailable: server.tls != nil, plainEnabled: configuration.plainEnabled),
            secure: directTLS)
    }

    private var logger: Logger { server.logger }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Breaks the context ↔ handler cycle, or every closed connection would stay in memory.
    func handlerRemoved(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        closeTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        address = context.remoteAddress?.ipAddress ?? "unknown"
        server.metrics.record { $0.connections += 1 }
        if let refusal = server.limiter.admit(address) {
            server.metrics.record { $0.refusedConnections += 1 }
            switch refusal {
            case .tooManyConnections: fail(StreamError(.resourceConstraint, "the server has too many connections"))
            case .rateExceeded: fail(StreamError(.policyViolation, "too many new connections from your address; slow down"))
            }
            // A direct-TLS client that never completes its handshake would keep the socket: close anyway.
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            closeTimer = context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.close(promise: nil) }
            return
        }
        admitted = true
        let timeout = TimeAmount.seconds(Int64(server.configuration.negotiationTimeoutSeconds))
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        negotiationTimer = context.eventLoop.scheduleTask(in: timeout) {
            guard this.value.session == nil else { return }
            this.value.fail(StreamError(.connectionTimeout, "stream negotiation took too long"))
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        closeTimer?.cancel()
        if admitted {
            admitted = false
            server.limiter.release()
        }
        if let session {
            self.session = nil
            SessionLifecycle(server: server).connectionLost(session, connection: self, clean: cleanEnd, on: context.eventLoop)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        reading = true
        outstandingPing = nil
        switch unwrapInboundIn(data) {
        case .streamOpened(let header): streamOpened(header)
        case .element(let element): handle(element)
        case .streamClosed: closeStream()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? StreamError {
            fail(streamError)
        } else {
            logger.debug("connection error", metadata: ["address": "\(address)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            idle()
        } else if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            // A verified certificate (NIOSSL checked it against the Agora CA) makes EXTERNAL available.
            if let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) {
                negotiation.hasClientCertificate = handler.peerCertificate != nil
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Stream

    private func streamOpened(_ header: XMLElement) {
        writeHeader()
        guard header.name == "stream", header.namespace == Namespace.streams else {
            return fail(StreamError(.invalidNamespace, "the root element must be <stream:stream> in \(Namespace.streams)"))
        }
        if let to = header[attribute: "to"], to.lowercased() != server.domain {
            return fail(StreamError(.hostUnknown, "this server serves \(server.domain) only"))
        }
        guard let version = header[attribute: "version"], version.hasPrefix("1.") else {
            return fail(StreamError(.unsupportedVersion, "XMPP 1.0 streams only"))
        }
        negotiation.streamRestarted()
        if case .established = negotiation.phase { return fail(StreamError(.policyViolation, "the stream cannot be restarted now")) }
        write(negotiation.features)
    }

    private func writeHeader() {
        guard !headerSent, let context else { return }
        headerSent = true
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeString("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='")
        buffer.writeString(SCRAMServer.randomNonce())
        buffer.writeString("' from='")
        XMLWriter.writeEscaped(server.domain, into: &buffer)
        buffer.writeString("' version='1.0' xml:lang='en'>")
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Sends a stream error and closes (RFC 6120 §4.9.1.1); only this stream is affected.
    func fail(_ error: StreamError) {
        guard !closing, let context else { return }
        writeHeader()
        server.metrics.record { $0.streamErrors[error.condition.rawValue, default: 0] += 1 }
        server.logRefusal("stream error", budget: server.streamErrorLog,
                          metadata: ["address": "\(address)", "condition": "\(error.condition.rawValue)", "reason": "\(error.text)"])
        write(error.element)
        // A dead link (no answer to a ping) is what XEP-0198 resumption is for; anything else
        // the client did wrong ends its session.
        cleanEnd = error.condition != .connectionTimeout
        endStream(context)
    }

    private func closeStream() {
        guard let context else { return }
        cleanEnd = true
        endStream(context)
    }

    private func endStream(_ context: ChannelHandlerContext) {
        closing = true
        // The session ends (or waits for resumption) now, not when the socket is finally closed,
        // so nothing routed to it in between is written into a stream that is going away.
        if let session {
            self.session = nil
            handedOver = session
            SessionLifecycle(server: server).connectionLost(session, connection: self, clean: cleanEnd, on: context.eventLoop)
        }
        var buffer = context.channel.allocator.buffer(capacity: 16)
        buffer.writeStaticString("</stream:stream>")
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
        // If the peer never reads (or never finishes TLS), the write never completes: close anyway.
        if closeTimer == nil {
            closeTimer = context.eventLoop.scheduleTask(in: .seconds(5)) { bound.value.close(promise: nil) }
        }
    }

    /// Silence for a ping interval: ping the client; silence for another one: it is gone.
    private func idle() {
        guard !closing else { return }
        guard session != nil else { return fail(StreamError(.connectionTimeout, "silent before binding a resource")) }
        if outstandingPing != nil {
            return fail(StreamError(.connectionTimeout, "no answer to the server's ping"))
        }
        pingCounter += 1
        let id = "srv-ping-\(pingCounter)"
        outstandingPing = id
        write(stanza: XMLElement("iq", namespace: Namespace.client, attributes: [
            .init("type", "get"), .init("id", id), .init("from", server.domain), .init("to", session!.jid.description),
        ], children: [.element(XMLElement("ping", namespace: Namespace.ping))]))
    }

    // MARK: Elements

    private func handle(_ element: XMLElement) {
        let step: StreamNegotiation.Step
        do { step = try negotiation.step(for: element) } catch { return fail(error) }
        switch step {
        case .startTLS: startTLS()
        case .auth(let mechanism, let initial): authenticate(mechanism: mechanism, initial: initial)
        case .saslResponse(let response): continueSCRAM(response)
        case .saslAbort:
            scram = nil
            negotiation.authenticationFailed()
            write(SASLFailure(.aborted, "client aborted").element)
        case .saslFailure(let failure): write(failure.element)
        case .bind(let iq): bind(iq)
        case .legacySession(let iq):
            write(stanza: StanzaRouter.result(for: iq, from: JID(domain: server.domain), payload: nil))
        case .resume(let previd, let handled): resume(previd: previd, handled: handled)
        case .enableStreamManagement(let resume): enableStreamManagement(resume: resume)
        case .ackRequest:
            let handled = session?.state.withLockedValue { $0.inbound } ?? 0
            write(XMLElement("a", namespace: Namespace.streamManagement, attributes: [.init("h", String(handled))]))
        case .ack(let handled): session?.acknowledge(handled)
        case .streamManagementFailure(let condition, let text):
            write(XMLElement("failed", namespace: Namespace.streamManagement, children: [
                .element(XMLElement(condition.rawValue, namespace: Namespace.stanzaErrors)),
                .element(XMLElement("text", namespace: Namespace.stanzaErrors, text: text)),
            ]))
        case .stanza(let stanza): route(stanza)
        }
    }

    private func route(_ stanza: XMLElement) {
        guard let session else { return }
        session.recordInbound()
        if stanza.name == "iq", let id = stanza[attribute: "id"], id.hasPrefix("srv-ping-"),
           stanza[attribute: "type"] == "result" || stanza[attribute: "type"] == "error" {
            return  // the answer to our own ping; any read already cleared it
        }
        if let reply = server.router.route(stanza, from: session) { write(stanza: reply) }
    }

    private func startTLS() {
        guard let context, let tls = server.tls else { return }
        write(XMLElement("proceed", namespace: Namespace.tls))
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        } catch {
            logger.error("TLS handler not installed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        negotiation.tlsEstablished()
        headerSent = false
        decoder.restart()
    }

    // MARK: SASL

    private func authenticate(mechanism: String, initial: String) {
        guard server.addressThrottle.blocked(address) == nil else {
            server.metrics.record { $0.authThrottled += 1 }
            return write(SASLFailure(.temporaryAuthFailure, "too many failures from this address").element)
        }
        guard let data = Self.decodeBase64(initial) else {
            return write(SASLFailure(.incorrectEncoding, "the initial response is not base64").element)
        }
        switch mechanism {
        case SCRAMHash.sha256.rawValue, SCRAMHash.sha1.rawValue:
            let hash = SCRAMHash(rawValue: mechanism)!
            var exchange = SCRAMServer(hash: hash)
            do {
                let (username, reply) = try exchange.start(data) { [server] username in server.scramKeys(username: username, hash: hash) }
                if let refusal = throttled(username: username) { return write(refusal.element) }
                pendingUsername = username
                scram = exchange
                negotiation.authenticationStarted()
                write(XMLElement("challenge", namespace: Namespace.sasl, text: Data(reply).base64EncodedString()))
            } catch {
                authenticationFailed(error, username: nil)
            }
        case "PLAIN":
            let parts = data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let username = String(validating: parts[1], as: UTF8.self),
                  let password = String(validating: parts[2], as: UTF8.self) else {
                return authenticationFailed(SASLFailure(.malformedRequest, "PLAIN needs authzid NUL authcid NUL password"), username: nil)
            }
            if let refusal = throttled(username: username) { return write(refusal.element) }
            guard parts[0].isEmpty || String(decoding: parts[0], as: UTF8.self) == "\(username)@\(server.domain)" else {
                return authenticationFailed(SASLFailure(.invalidAuthzid, "authzid must be empty or the account itself"), username: username)
            }
            // An unknown account costs the same PBKDF2 as a known one, so timing tells nothing.
            let keys = server.scramKeys(username: username, hash: .sha256)
                ?? SCRAMKeys(hash: .sha256, salt: SCRAMServer.decoySalt(for: username, hash: .sha256),
                             iterations: SCRAMKeys.minimumIterations, storedKey: [], serverKey: [])
            guard keys.matches(password: password), let jid = try? BareJID("\(username)@\(server.domain)") else {
                return authenticationFailed(SASLFailure(.notAuthorized, "wrong password or unknown account"), username: username)
            }
            succeed(jid, additionalData: nil)
        case "EXTERNAL":
            guard let jid = certificateIdentity() else {
                return authenticationFailed(SASLFailure(.notAuthorized, "the client certificate names no account here"), username: nil)
            }
            if !data.isEmpty, String(decoding: data, as: UTF8.self) != jid.description {
                return authenticationFailed(SASLFailure(.invalidAuthzid, "the certificate does not name that account"), username: jid.localpart)
            }
            succeed(jid, additionalData: nil)
        default:
            write(SASLFailure(.invalidMechanism, "mechanism not offered").element)
        }
    }

    private func continueSCRAM(_ response: String) {
        guard var exchange = scram else { return }
        scram = nil
        guard let data = Self.decodeBase64(response) else {
            return authenticationFailed(SASLFailure(.incorrectEncoding, "the response is not base64"), username: nil)
        }
        do {
            let (username, serverFinal) = try exchange.finish(data)
            guard let jid = try? BareJID("\(username)@\(server.domain)") else {
                return authenticationFailed(SASLFailure(.notAuthorized, "not an account address"), username: nil)
            }
            if let authzid = exchange.authzid, !authzid.isEmpty, (try? BareJID(authzid)) != jid {
                return authenticationFailed(SASLFailure(.invalidAuthzid, "an account can act only as itself"), username: username)
            }
            succeed(jid, additionalData: serverFinal)
        } catch {
            authenticationFailed(error, username: pendingUsername)
        }
    }

    private func throttled(username: String) -> SASLFailure? {
        guard server.accountThrottle.blocked(username.lowercased()) != nil else { return nil }
        server.metrics.record { $0.authThrottled += 1 }
        negotiation.authenticationFailed()
        return SASLFailure(.temporaryAuthFailure, "too many failures for this account; try again later")
    }

    private var pendingUsername: String?

    private func authenticationFailed(_ failure: SASLFailure, username: String?) {
        negotiation.authenticationFailed()
        server.metrics.record { $0.authFailures += 1 }
        server.addressThrottle.failed(address)
        if let name = username ?? pendingUsername { server.accountThrottle.failed(name.lowercased()) }
        pendingUsername = nil
        server.logRefusal("authentication failed", budget: server.authFailureLog, metadata: ["address": "\(address)", "reason": "\(failure.reason)"])
        write(failure.element)
    }

    private func succeed(_ jid: BareJID, additionalData: [UInt8]?) {
        pendingUsername = nil
        server.accountThrottle.succeeded(jid.localpart)
        server.metrics.record { $0.logins += 1 }
        negotiation.authenticated(jid)
        let payload = additionalData.map { Data($0).base64EncodedString() } ?? ""
        write(XMLElement("success", namespace: Namespace.sasl, children: payload.isEmpty ? [] : [.text(payload)]))
        headerSent = false
        decoder.restart()
    }

    private func certificateIdentity() -> BareJID? {
        guard let context, let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
              let certificate = handler.peerCertificate, let der = try? certificate.toDERBytes() else { return nil }
        return server.accounts.certificateIdentity(der)
    }

    /// SASL carries base64; `=` is an empty response (RFC 6120 §6.4.2).
    static func decodeBase64(_ text: String) -> [UInt8]? {
        let trimmed = text.filter { !$0.isWhitespace }
        if trimmed.isEmpty || trimmed == "=" { return [] }
        return Data(base64Encoded: trimmed).map(Array.init)
    }

    // MARK: Binding and stream management

    private func bind(_ iq: XMLElement) {
        guard case .bind(let account) = negotiation.phase, let context else { return }
        guard server.router.sessions.count < server.configuration.maxSessions else {
            return fail(StreamError(.resourceConstraint, "the server has reached its session limit"))
        }
        let requested = iq.child("bind", namespace: Namespace.bind)?.child("resource")?.text
        let resource: String
        if let requested, !requested.isEmpty {
            guard JID.isValidResource(requested) else {
                return write(stanza: StanzaError(.badRequest, "the resource must be 1…1023 bytes without control characters").reply(to: iq))
            }
            resource = requested
        } else {
            resource = "agora-" + String(SCRAMServer.randomNonce().filter { $0.isLetter || $0.isNumber }.prefix(12))
        }
        if server.router.sessions.sessions(of: account).count >= server.configuration.maxResourcesPerAccount {
            return write(stanza: StanzaError(.resourceConstraint, "this account has \(server.configuration.maxResourcesPerAccount) sessions already").reply(to: iq))
        }
        let jid = JID(account, resource: resource)
        let session = Session(jid: jid, bare: account, streamID: SCRAMServer.randomNonce())
        session.attach(self, on: context.eventLoop)
        if let replaced = server.router.sessions.add(session) {
            SessionLifecycle(server: server).replaced(replaced)
        }
        self.session = session
        negotiation.bound(jid)
        negotiationTimer?.cancel()
        write(stanza: StanzaRouter.result(for: iq, from: JID(domain: server.domain), payload: XMLElement("bind", namespace: Namespace.bind, children: [
            .element(XMLElement("jid", namespace: Namespace.bind, text: jid.description)),
        ])))
    }

    private func enableStreamManagement(resume: Bool) {
        guard let session else { return }
        let alreadyEnabled = session.state.withLockedValue { state -> Bool in
            if state.smEnabled { return true }
            state.smEnabled = true
            state.resumable = resume && server.configuration.resumeTimeoutSeconds > 0
            return false
        }
        guard !alreadyEnabled else {
            return write(XMLElement("failed", namespace: Namespace.streamManagement, children: [
                .element(XMLElement(StanzaError.Condition.unexpectedRequest.rawValue, namespace: Namespace.stanzaErrors)),
            ]))
        }
        var enabled = XMLElement("enabled", namespace: Namespace.streamManagement)
        if resume && server.configuration.resumeTimeoutSeconds > 0 {
            enabled[attribute: "id"] = session.streamID
            enabled[attribute: "resume"] = "true"
            enabled[attribute: "max"] = String(server.configuration.resumeTimeoutSeconds)
        }
        write(enabled)
    }

    private func resume(previd: String, handled: UInt32) {
        guard case .bind(let account) = negotiation.phase, let context else { return }
        func failed(_ text: String) {
            write(XMLElement("failed", namespace: Namespace.streamManagement, children: [
                .element(XMLElement(StanzaError.Condition.itemNotFound.rawValue, namespace: Namespace.stanzaErrors)),
                .element(XMLElement("text", namespace: Namespace.stanzaErrors, text: text)),
            ]))
        }
        guard let session = server.router.sessions.session(streamID: previd), session.bare == account,
              session.state.withLockedValue({ $0.resumable && !$0.closed }) else {
            return failed("no resumable session with that id")
        }
        // Take over in one step: from here on every delivery comes to this connection.
        let bound = NIOLoopBound<AnyObject>(self, eventLoop: context.eventLoop)
        let takeover = session.state.withLockedValue { state -> (NIOLoopBound<AnyObject>?, UInt32, [XMLElement], [XMLElement])? in
            guard state.resumable, !state.closed else { return nil }  // expired since the lookup
            let previous = state.connection
            state.unacked.removeAll { Int32(bitPattern: handled &- $0.sequence) >= 0 }
            let queued = state.queued
            state.queued = []
            state.connection = bound
            state.detachedDeadline = nil
            return (previous, state.inbound, state.unacked.map(\.stanza), queued)
        }
        guard let (previous, inbound, unacked, queued) = takeover else { return failed("the session expired") }
        if let previous {
            previous.eventLoop.execute { (previous.value as? any SessionConnection)?.abandon() }
        }
        self.session = session
        negotiation.bound(session.jid)
        negotiationTimer?.cancel()
        server.metrics.record { $0.resumptions += 1 }
        write(XMLElement("resumed", namespace: Namespace.streamManagement, attributes: [.init("previd", previd), .init("h", String(inbound))]))
        for stanza in unacked { writeBytes(stanza) }
        for stanza in queued { write(stanza: stanza) }
    }

    // MARK: SessionConnection

    func write(stanza: XMLElement) {
        guard !closing else {
            // Dispatched before this connection handed its session on (resumed, waiting, or ended).
            if let handedOver, !handedOver.deliver(stanza), stanza.name == "message" {
                server.router.storeOffline(stanza, for: handedOver.bare, sender: nil)
            }
            return
        }
        guard let session else { return writeBytes(stanza) }
        switch session.claimWrite(stanza, by: self) {
        case .redirect:
            session.deliver(stanza)
        case .write(let unacked):
            writeBytes(stanza)
            if let unacked {
                if unacked > Self.maxUnacked {
                    return fail(StreamError(.policyViolation, "more than \(Self.maxUnacked) stanzas left unacknowledged"))
                }
                if unacked % 5 == 0 { write(XMLElement("r", namespace: Namespace.streamManagement)) }
            }
            if let context, !context.channel.isWritable,
               let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), buffered > Self.maxBufferedBytes {
                fail(StreamError(.resourceConstraint, "the client does not read what is sent to it"))
            }
        }
    }

    private func writeBytes(_ stanza: XMLElement) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        XMLWriter.write(stanza, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        scheduleFlush()
    }

    func abandon() {
        handedOver = session
        session = nil
        closing = true
        context?.close(promise: nil)
    }

    /// Writes a negotiation element (not a stanza, so stream management does not count it).
    private func write(_ element: XMLElement) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        XMLWriter.write(element, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !reading, !flushScheduled, let context else { return }
        flushScheduled = true
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            this.value.flushScheduled = false
            this.value.context?.flush()
        }
    }
}
