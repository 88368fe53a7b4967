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

    let server: XMPPServerContext
    let decoder: XMPPStreamDecoder
    var negotiation: StreamNegotiation
    var context: ChannelHandlerContext?
    var address = "unknown"
    var admitted = false
    var headerSent = false
    var closing = false
    var scram: SCRAMServer?
    var session: Session?
    var reading = false
    var flushScheduled = false
    var outstandingPing: String?
    var negotiationTimer: Scheduled<Void>?
    /// Closes the socket if a closing stream's last write never completes; cancelled (and its
    /// hold on the channel released) as soon as the channel goes away.
    var closeTimer: Scheduled<Void>?
    var pingCounter = 0
    /// Whether the session ends with this connection; a timed-out link keeps a resumable one.
    var cleanEnd = false
    /// The session this connection handed over to a resumed stream: late writes go back to it.
    var handedOver: Session?
    /// The account a SCRAM exchange in progress names, so its failure counts against it.
    var pendingUsername: String?

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

    var logger: Logger { server.logger }

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
            // Deliveries already dispatched to this connection still arrive after this point;
            // they go back to the session (queued for a resumption, or offline), not to the
            // closed channel. Without this a message sent as the connection died was lost.
            handedOver = session
            closing = true
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

    func streamOpened(_ header: XMLElement) {
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

    func writeHeader() {
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

    func closeStream() {
        guard let context else { return }
        cleanEnd = true
        endStream(context)
    }

    func endStream(_ context: ChannelHandlerContext) {
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
    func idle() {
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

    func handle(_ element: XMLElement) {
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
            writeStreamManagementFailure(condition, text)
        case .stanza(let stanza): route(stanza)
        }
    }

    func route(_ stanza: XMLElement) {
        guard let session else { return }
        session.recordInbound()
        if stanza.name == "iq", let id = stanza[attribute: "id"], id.hasPrefix("srv-ping-"),
           stanza[attribute: "type"] == "result" || stanza[attribute: "type"] == "error" {
            return  // the answer to our own ping; any read already cleared it
        }
        if let reply = server.router.route(stanza, from: session) { write(stanza: reply) }
    }

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
        negotiation.tlsEstablished()
        headerSent = false
        decoder.restart()
    }

    // MARK: SessionConnection

    func write(stanza: XMLElement) {
        guard !closing else {
            // Dispatched before this connection handed its session on (resumed, waiting, or ended).
            if let handedOver, !handedOver.deliver(stanza), stanza.name == "message" {
                server.router.storeOffline(stanza, for: handedOver.bare, leftBy: handedOver.lane)
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

    func writeBytes(_ stanza: XMLElement) {
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
    func write(_ element: XMLElement) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        XMLWriter.write(element, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        scheduleFlush()
    }

    func scheduleFlush() {
        guard !reading, !flushScheduled, let context else { return }
        flushScheduled = true
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            this.value.flushScheduled = false
            this.value.context?.flush()
        }
    }
}
