internal import AgoraCore
internal import FoundationEssentials
internal import Logging
internal import NIOCore
internal import NIOSSL
internal import NIOTLS

/// The state machine of a client-to-server stream.
typealias C2SStateMachine = XMPPStreamStateMachine<C2SRole>

/// One client-to-server connection: feeds its `C2SStateMachine` what it reads, the TLS
/// handshake, its timers and the outcome of authentication, and performs the actions that
/// come back — writes through its `XMPPStreamEncoder`, timers, pipeline changes, and the
/// hand-offs to the router, the session registry and the authentication thread pool. The
/// rules of the stream live in the machine, not here.
///
/// Runs on its channel's event loop only. Writes made while a read is being processed are
/// flushed once at `channelReadComplete`; deliveries from other sessions are coalesced
/// into one flush per event-loop tick, so a burst costs one syscall, not one per stanza.
final class C2SConnection: ChannelInboundHandler, SessionConnection {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = ByteBuffer

    let server: XMPPServerContext
    let decoder: XMPPStreamDecoder
    let encoder: XMPPStreamEncoder
    var machine: C2SStateMachine
    var context: ChannelHandlerContext?
    var address = "unknown"
    /// Inside `channelRead`: writes wait for the one flush at `channelReadComplete`.
    var insideChannelRead = false
    var flushScheduled = false
    var negotiationTimer: Scheduled<Void>?
    /// Closes the socket if a closing stream's last write never completes; cancelled (and its
    /// hold on the channel released) as soon as the channel goes away.
    var closeTimer: Scheduled<Void>?

    /// Stanzas a client may leave unacknowledged (XEP-0198) before its stream is ended.
    static let maxUnacked = 5000
    /// Bytes queued for a client that does not read before it is cut off.
    static let maxBufferedBytes = 4 << 20

    init(server: XMPPServerContext, decoder: XMPPStreamDecoder, machine: C2SStateMachine) {
        self.server = server
        self.decoder = decoder
        self.machine = machine
        self.encoder = XMPPStreamEncoder(contentNamespace: machine.role.contentNamespace, from: server.domain)
    }

    convenience init(server: XMPPServerContext, decoder: XMPPStreamDecoder, directTLS: Bool) {
        let configuration = server.configuration
        let role = C2SRole(tlsRequired: configuration.tlsRequired, tlsAvailable: server.tls != nil, plainEnabled: configuration.plainEnabled)
        self.init(server: server, decoder: decoder, machine: C2SStateMachine(role: role, domain: server.domain, secure: directTLS))
    }

    var logger: Logger { server.logger }

    /// The session this connection carries, or the one it handed over when its stream ended.
    var boundSession: Session? { machine.link }

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
        machine.connectionAdmitted()
        let timeout = TimeAmount.seconds(Int64(server.configuration.negotiationTimeoutSeconds))
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        negotiationTimer = context.eventLoop.scheduleTask(in: timeout) {
            if let error = this.value.machine.negotiationDeadlinePassed() { this.value.fail(error) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        closeTimer?.cancel()
        let (releaseAdmission, lost) = machine.channelInactive()
        if releaseAdmission { server.limiter.release() }
        if let lost {
            // Deliveries already dispatched to this connection still arrive after this point;
            // they go back to the session (queued for a resumption, or offline), not to the
            // closed channel. Without this a message sent as the connection died was lost.
            SessionLifecycle(server: server).connectionLost(lost, connection: self, clean: false, on: context.eventLoop)
        }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        boundSession?.writabilityChanged(context.channel.isWritable, by: self)
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        insideChannelRead = true
        dispatch(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        insideChannelRead = false
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
                machine.tlsHandshakeCompleted(clientCertificate: handler.peerCertificate != nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Performing the machine's actions

    /// One event read from the stream (or held during authentication and given back).
    func dispatch(_ event: XMLStreamEvent) {
        let action: C2SStateMachine.ReceiveAction
        do { action = try machine.receive(event) } catch { return fail(error) }
        switch action {
        case .none: break
        case .openStream(let writeHeader, let features):
            if writeHeader { self.writeHeader() }
            write(features)
        case .close(let closing): close(closing)
        case .startTLS: startTLS()
        case .authenticate(let mechanism, let initialResponse): authenticate(mechanism: mechanism, initialResponse: initialResponse)
        case .continueSCRAM(let exchange, let response):
            authenticationCompleted(server.authenticator.finish(exchange, response: response))
        case .write(let element): write(element)
        case .bind(let iq, let account): bind(iq, account: account)
        case .legacySession(let iq): write(stanza: StanzaRouter.result(for: iq, from: replyAddress(for: iq), payload: nil))
        case .resume(let previd, let handled, let account): resume(previd: previd, handled: handled, account: account)
        case .enableStreamManagement(let resume, let session): enableStreamManagement(resume: resume, session: session)
        case .ackRequest(let session):
            let handled = session.state.withLockedValue { $0.inbound }
            write(XMLElement("a", namespace: Namespace.streamManagement, attributes: [.init("h", String(handled))]))
        case .ack(let handled, let session): session.acknowledge(handled)
        case .clientState(let active, let session): session.setClientActive(active)
        case .stanza(let stanza, let session): route(stanza, from: session)
        case .verifyDialback, .answerDialbackVerify:
            fail(StreamError(.unsupportedStanzaType, "dialback is for server-to-server streams"))  // C2SRole offers none
        }
    }

    func writeHeader() {
        guard let context else { return }
        context.write(wrapOutboundOut(encoder.header(id: SCRAMServer.randomNonce(), allocator: context.channel.allocator)), promise: nil)
    }

    /// Sends a stream error and closes (RFC 6120 §4.9.1.1); only this stream is affected.
    func fail(_ error: StreamError) {
        guard context != nil, let closing = machine.fail(error) else { return }
        close(closing)
    }

    /// Ends the stream as the machine decided: the error (if any), the link's fate, the
    /// closing tag, then the socket.
    func close(_ closing: C2SStateMachine.Closing) {
        guard let context else { return }
        if let error = closing.error {
            if closing.writeHeader { writeHeader() }
            server.metrics.record { $0.streamErrors[error.condition.rawValue, default: 0] += 1 }
            server.logRefusal("stream error", budget: server.streamErrorLog,
                              metadata: ["address": "\(address)", "condition": "\(error.condition.rawValue)", "reason": "\(error.text)"])
            write(error.element)
        }
        // The session ends (or waits for resumption) now, not when the socket is finally closed,
        // so nothing routed to it in between is written into a stream that is going away.
        if let (session, clean) = closing.lost {
            SessionLifecycle(server: server).connectionLost(session, connection: self, clean: clean, on: context.eventLoop)
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(encoder.closingTag(allocator: context.channel.allocator))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
        // If the peer never reads (or never finishes TLS), the write never completes: close anyway.
        if closeTimer == nil {
            closeTimer = context.eventLoop.scheduleTask(in: .seconds(5)) { bound.value.close(promise: nil) }
        }
    }

    /// Silence for a ping interval: ping the client; silence for another one: it is gone.
    func idle() {
        switch machine.idle() {
        case .none: break
        case .fail(let error): fail(error)
        case .ping(let id, let session):
            write(stanza: XMLElement("iq", namespace: Namespace.client, attributes: [
                .init("type", "get"), .init("id", id), .init("from", server.domain), .init("to", session.jidText),
            ], children: [.element(XMLElement("ping", namespace: Namespace.ping))]))
        }
    }

    func route(_ stanza: XMLElement, from session: Session) {
        session.recordInbound()
        if stanza.name == "iq", let id = stanza[attribute: "id"], id.hasPrefix("srv-ping-"),
           stanza[attribute: "type"] == "result" || stanza[attribute: "type"] == "error" {
            return  // the answer to our own ping; any read already cleared it
        }
        if let reply = server.router.route(stanza, from: session) { write(stanza: reply) }
    }

    /// RFC 6120 §5.4.3.3: `<proceed/>`, then TLS goes first in the pipeline and both sides
    /// start a new stream over it (the machine has already moved on).
    func startTLS() {
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
        decoder.restart()
    }

    // MARK: SessionConnection

    func write(stanza: XMLElement) {
        let session: Session
        switch machine.outboundRoute {
        case .redeliver(let handedOver):
            // Dispatched before this connection handed its session on (resumed, waiting, or ended).
            if let handedOver, !handedOver.deliver(stanza), stanza.name == "message" {
                server.router.storeOffline(stanza, for: handedOver.bare, leftBy: handedOver.lane)
            }
            return
        case .write(nil):
            return writeBytes(stanza)
        case .write(let bound?):
            session = bound
        }
        switch session.claimWrite(stanza, by: self) {
        case .redirect:
            session.deliver(stanza)
        case .write(let unacked):
            server.metrics.stanza(stanza.name, inbound: false)
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

    func writeBytes(_ stanza: XMLElement) {
        guard let context else { return }
        context.write(wrapOutboundOut(encoder.encode(stanza, allocator: context.channel.allocator)), promise: nil)
        scheduleFlush()
    }

    func abandon() {
        machine.abandoned()
        context?.close(promise: nil)
    }

    /// Writes a negotiation element (not a stanza, so stream management does not count it).
    func write(_ element: XMLElement) {
        guard let context else { return }
        context.write(wrapOutboundOut(encoder.encode(element, allocator: context.channel.allocator)), promise: nil)
        scheduleFlush()
    }

    func scheduleFlush() {
        guard !insideChannelRead, !flushScheduled, let context else { return }
        flushScheduled = true
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            this.value.flushScheduled = false
            this.value.context?.flush()
        }
    }
}

/// Bound to its channel's event loop: every method runs there, so it is not Sendable.
@available(*, unavailable)
extension C2SConnection: Sendable {}
