internal import AgoraCore
internal import Logging
internal import NIOCore
internal import NIOSSL

/// One outbound server-to-server connection: performs what its `S2SInitiatorStateMachine`
/// decides — headers, STARTTLS, EXTERNAL or dialback — then writes the stanzas federation
/// gives it. Pipeline: [TLS] → idle timer → `XMPPStreamDecoder` → this.
///
/// Runs on its channel's event loop only.
final class S2SOutboundConnection: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = ByteBuffer

    let federation: S2SFederation
    /// The domain of ours this stream speaks for: the server's, or a component's.
    let local: String
    let peer: String
    let decoder: XMPPStreamDecoder
    var machine: S2SInitiatorStateMachine
    /// Completed with the peer's answer when the stream was opened to verify a dialback key.
    let verified: EventLoopPromise<Bool>?
    private var context: ChannelHandlerContext?
    private var negotiationTimer: Scheduled<Void>?
    private var flushScheduled = false
    private var announced = false
    private var ended = false
    private let certificate = PeerCertificateCheck()

    init(federation: S2SFederation, local: String, peer: String, decoder: XMPPStreamDecoder, purpose: S2SInitiatorStateMachine.Purpose,
         verified: EventLoopPromise<Bool>?) {
        self.federation = federation
        self.local = local
        self.peer = peer
        self.decoder = decoder
        self.verified = verified
        machine = S2SInitiatorStateMachine(local: local, remote: peer, purpose: purpose, hasCertificate: federation.hasCertificate,
                                           dialbackAllowed: !federation.configuration.requireCertificates)
    }

    static func install(on channel: any Channel, federation: S2SFederation, local: String, peer: String, purpose: S2SInitiatorStateMachine.Purpose,
                        verified: EventLoopPromise<Bool>?) throws {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(IdleStateHandler(allTimeout: .seconds(Int64(federation.configuration.idleSeconds))))
        let decoder = XMPPStreamDecoder(limits: federation.limits)
        try operations.addHandler(decoder)
        try operations.addHandler(S2SOutboundConnection(federation: federation, local: local, peer: peer, decoder: decoder, purpose: purpose,
                                                        verified: verified))
    }

    private var logger: Logger { federation.logger }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        federation.metrics.record { $0.s2sStreams["outbound", default: 0] += 1 }
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        negotiationTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(federation.configuration.connectTimeoutSeconds))) {
            guard !this.value.machine.isReady else { return }
            this.value.end(condition: .remoteServerTimeout, error: StreamError(.connectionTimeout, "negotiation took too long"), reason: "negotiation timed out")
        }
        perform(machine.connected())
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        finish(condition: machine.isReady ? nil : .remoteServerNotFound, reason: "the connection closed")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.receive(unwrapInboundIn(data)))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? StreamError {
            end(condition: .remoteServerNotFound, error: streamError, reason: "the peer sent what cannot be parsed")
        } else {
            logger.debug("s2s outbound error", metadata: ["peer": "\(peer)", "error": "\(error)"])
            finish(condition: machine.isReady ? nil : .remoteServerNotFound, reason: "\(error)")
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // Nothing either way for `idleSeconds`: a clean close (RFC 6120 §4.4); the next
            // stanza for this peer opens a new link. Already ending: the socket goes now.
            if ended { context.close(promise: nil) } else { close(error: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func perform(_ action: S2SInitiatorStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .sendHeader:
            writeHeader()
        case .write(let element):
            write(element)
        case .sendDialbackKey(let streamID):
            let key = federation.dialback.make(receiving: peer, originating: local, streamID: streamID)
            write(XMLElement("result", namespace: Namespace.dialback, attributes: [.init("from", local), .init("to", peer)], children: [.text(key)]))
        case .startTLS:
            do {
                // The peer is checked by the callback: chain and name required only when
                // certificates are; otherwise dialback proves who the peer is (XEP-0220).
                let callback = PeerCertificateCheck.callback(trust: federation.trust, recordingInto: certificate,
                                                             required: federation.configuration.requireCertificates ? peer : nil)
                try context.pipeline.syncOperations.addHandler(  // SNI: the peer picks the certificate for its domain
                    NIOSSLClientHandler(context: federation.clientTLS, serverHostname: peer, customVerificationCallback: callback), position: .first)
            } catch {
                return end(condition: .remoteServerNotFound, error: nil, reason: "TLS could not start: \(error)")
            }
            decoder.restart()
            writeHeader()
        case .restartAfterSASL:
            decoder.restart()
            writeHeader()
        case .ready(let mechanism):
            negotiationTimer?.cancel()
            federation.metrics.record { $0.s2sAuthenticated["outbound_" + mechanism, default: 0] += 1 }
            logger.info("s2s link ready", metadata: ["peer": "\(peer)", "mechanism": "\(mechanism)"])
            announced = true
            guard federation.linkReady(self, link: S2SFederation.LinkKey(local: local, peer: peer), loop: context.eventLoop) else {
                announced = false
                return close(error: nil)
            }
            context.flush()
        case .verified(let valid):
            verified?.succeed(valid)
            close(error: nil)
        case .fail(let reason, let error, let refused):
            if refused { federation.metrics.record { $0.s2sRefused["by_peer", default: 0] += 1 } }
            end(condition: .remoteServerNotFound, error: error, reason: reason)
        }
    }

    /// Writes one stanza to the peer; a peer that does not read makes stanzas bounce.
    func send(_ stanza: XMLElement) {
        guard let context, !ended else {
            // Dispatched while this link was ending: a link that had been ready hands it back
            // once, to a new link (an idle close is no reason to lose it); otherwise it bounces.
            if announced, !stanza.hasAttribute(Self.resent) {
                var again = stanza
                again[attribute: Self.resent] = "1"
                return federation.send(again)
            }
            return federation.bounce([stanza], condition: .remoteServerNotFound)
        }
        var stanza = stanza
        stanza[attribute: Self.resent] = nil
        if !context.channel.isWritable, let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
           buffered > S2SFederation.maxBufferedBytes {
            federation.metrics.record { $0.s2sRefused["slow_peer", default: 0] += 1 }
            return federation.bounce([stanza], condition: .resourceConstraint)
        }
        federation.metrics.record { $0.s2sStanzas["outbound", default: 0] += 1 }
        write(stanza)
    }

    /// Ends the stream: our error (if any), the closing tag, then the socket.
    func close(error: StreamError?) {
        guard let context, !ended else { return }
        if let error { write(error.element) }
        finish(condition: nil, reason: "closed")
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "</stream:stream>"))).whenComplete { _ in bound.value.close(promise: nil) }
        _ = context.eventLoop.scheduleTask(in: .seconds(5)) { bound.value.close(promise: nil) }
    }

    private func end(condition: StanzaError.Condition, error: StreamError?, reason: String) {
        logger.info("s2s link failed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        finish(condition: condition, reason: reason)
        guard let context else { return }
        if let error { write(error.element) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "</stream:stream>"))).whenComplete { _ in bound.value.close(promise: nil) }
        // A peer that never reads would keep the socket and what is buffered for it.
        _ = context.eventLoop.scheduleTask(in: .seconds(5)) { bound.value.close(promise: nil) }
    }

    /// Tells federation (once) that this link is gone, and whoever waits for a verification.
    private func finish(condition: StanzaError.Condition?, reason: String) {
        guard !ended else { return }
        ended = true
        verified?.succeed(false)  // no effect once it was completed with the answer
        if case .stanzas = machine.purpose {
            federation.linkEnded(announced ? self : nil, link: S2SFederation.LinkKey(local: local, peer: peer),
                                 condition: announced ? nil : (condition ?? .remoteServerNotFound))
        }
    }

    /// RFC 6120 §4.7: the initiating server names both ends; `xmlns:db` announces dialback.
    private func writeHeader() {
        guard let context else { return }
        context.write(wrapOutboundOut(XMPPStreamEncoder.serverHeader(from: local, to: peer, id: nil, allocator: context.channel.allocator)),
                      promise: nil)
        scheduleFlush()
    }

    private func write(_ element: XMLElement) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        XMLWriter.write(element, parentNamespace: Namespace.server, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            this.value.flushScheduled = false
            this.value.context?.flush()
        }
    }
}

extension S2SOutboundConnection {
    /// Marks (inside this server only) a stanza already handed back once by an ending link.
    static let resent = "agora-s2s-resent"
}

private extension XMLElement {
    func hasAttribute(_ name: String) -> Bool { self[attribute: name] != nil }
}

@available(*, unavailable)
extension S2SOutboundConnection: Sendable {}
