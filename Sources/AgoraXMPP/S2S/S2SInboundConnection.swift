internal import AgoraCore
internal import FoundationEssentials
internal import Logging
internal import NIOCore
internal import NIOSSL
internal import NIOTLS

/// One inbound server-to-server connection: feeds the shared `XMPPStreamStateMachine` (with
/// `S2SRole`) what it reads, and performs what it returns — STARTTLS, SASL EXTERNAL checked
/// against the peer's certificate, dialback verified with the peer's authoritative server,
/// answers to other servers' dialback questions, then the peer's stanzas to federation.
///
/// Pipeline: idle timer → `XMPPStreamDecoder` (the c2s limits) → this; TLS goes first on
/// STARTTLS. Runs on its channel's event loop only.
final class S2SInboundConnection: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = ByteBuffer

    let federation: S2SFederation
    let decoder: XMPPStreamDecoder
    let encoder: XMPPStreamEncoder
    var machine: S2SStateMachine
    private var context: ChannelHandlerContext?
    private var address = "unknown"
    /// The `id` of our current stream header: dialback keys are bound to it.
    private var streamID = ""
    private var negotiationTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var admitted = false
    private let certificate = PeerCertificateCheck()

    init(federation: S2SFederation, decoder: XMPPStreamDecoder) {
        self.federation = federation
        self.decoder = decoder
        encoder = XMPPStreamEncoder(contentNamespace: Namespace.server, from: federation.domain)
        machine = S2SStateMachine(role: S2SRole(tlsAvailable: true, dialback: !federation.configuration.requireCertificates,
                                                otherDomains: federation.servedDomains.subtracting([federation.domain])),
                                  domain: federation.domain, secure: false)
    }

    private var logger: Logger { federation.logger }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        closeTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        address = context.remoteAddress?.ipAddress ?? "unknown"
        federation.metrics.record { $0.s2sStreams["inbound", default: 0] += 1 }
        if let refusal = federation.admitInbound(from: address) {
            federation.metrics.record { $0.s2sRefused[refusal, default: 0] += 1 }
            fail(StreamError(.resourceConstraint, "this gateway has too many server-to-server streams"))
            // A peer that never reads would keep the socket: close anyway.
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            closeTimer = context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.close(promise: nil) }
            return
        }
        admitted = true
        machine.connectionAdmitted()
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        negotiationTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(federation.configuration.connectTimeoutSeconds * 2))) {
            if let error = this.value.machine.negotiationDeadlinePassed() { this.value.fail(error) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiationTimer?.cancel()
        closeTimer?.cancel()
        if admitted { federation.releaseInbound(from: address) }
        admitted = false
        if let link = machine.channelInactive().lost { end(link) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { dispatch(unwrapInboundIn(data)) }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? StreamError {
            fail(streamError)
        } else {
            logger.debug("s2s inbound error", metadata: ["address": "\(address)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // A peer silent for the idle time: it closes its link when idle too; make sure.
            if let closing = machine.fail(StreamError(.connectionTimeout, "idle")) { close(closing, quiet: true) }
        } else if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            machine.tlsHandshakeCompleted(clientCertificate: certificate.trustedLeaf != nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: The machine's actions

    private func dispatch(_ event: XMLStreamEvent) {
        let action: S2SStateMachine.ReceiveAction
        do { action = try machine.receive(event) } catch {
            if error.condition == .invalidFrom { federation.metrics.record { $0.s2sRefused["invalid_from", default: 0] += 1 } }
            return fail(error)
        }
        switch action {
        case .none:
            break
        case .openStream(let writeHeader, let features):
            if writeHeader { self.writeHeader() }
            write(features)
            if machine.restartedIdentity != nil { bindLink() }
        case .close(let closing):
            close(closing, quiet: false)
        case .startTLS:
            startTLS()
        case .authenticate(let mechanism, let initialResponse):
            authenticateExternal(mechanism: mechanism, initialResponse: initialResponse)
        case .write(let element):
            write(element)
        case .verifyDialback(let from, let key):
            verifyDialback(from: from, key: key)
        case .answerDialbackVerify(let element):
            answerVerify(element)
        case .stanza(let stanza, let link):
            guard let context else { return }
            federation.received(stanza, on: link, loop: context.eventLoop)
        case .continueSCRAM, .bind, .legacySession, .resume, .enableStreamManagement, .ackRequest, .ack, .clientState:
            fail(StreamError(.unsupportedStanzaType, "not on a server-to-server stream"))
        }
    }

    /// XEP-0178 §3: EXTERNAL succeeds when the certificate chained to the trust anchors,
    /// names the stream's `from`, and the authorization identity is empty or that domain.
    private func authenticateExternal(mechanism: String, initialResponse: String) {
        let outcome: SASLOutcome<String>
        let peer = machine.peerDomain ?? ""
        let authzid = initialResponse == "=" || initialResponse.isEmpty ? "" : SASLAuthenticator.decodeBase64(initialResponse).map { String(decoding: $0, as: UTF8.self) }
        if mechanism != "EXTERNAL" {
            outcome = .refused(SASLFailure(.invalidMechanism, "EXTERNAL only"))
        } else if authzid == nil {
            outcome = .refused(SASLFailure(.incorrectEncoding, "the initial response is not base64"))
        } else if let authzid, !authzid.isEmpty, authzid.lowercased() != peer {
            outcome = .refused(SASLFailure(.invalidAuthzid, "a server may authenticate only as the domain it opened the stream for"))
        } else if let leaf = certificate.trustedLeaf, PeerCertificateIdentity.names(leaf, domain: peer) {
            outcome = .success(peer, additionalData: nil)
        } else {
            federation.metrics.record { $0.s2sRefused["certificate", default: 0] += 1 }
            outcome = .refused(SASLFailure(.notAuthorized, "the certificate does not name \(peer)"))
        }
        let action: S2SStateMachine.AuthenticationAction
        do { action = try machine.authenticationCompleted(outcome) } catch { return fail(error) }
        switch action {
        case .succeed:
            federation.metrics.record { $0.s2sAuthenticated["inbound_external", default: 0] += 1 }
            write(XMLElement("success", namespace: Namespace.sasl))
            decoder.restart()
        case .fail(let failure, _), .refuse(let failure, _):
            write(failure.element)
        case .none, .challenge:
            break
        }
        drainHeld()
    }

    /// XEP-0220 §2.1.2: ask the authoritative server of `from` whether the key is its own.
    private func verifyDialback(from: String, key: String) {
        guard let context else { return }
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        let id = streamID
        federation.verifyDialback(peer: from, local: machine.localDomain, streamID: id, key: key, on: context.eventLoop).whenComplete { result in
            this.value.dialbackVerified(from: from, valid: (try? result.get()) ?? false)
        }
    }

    private func dialbackVerified(from: String, valid: Bool) {
        let action: S2SStateMachine.AuthenticationAction
        do { action = try machine.dialbackCompleted(valid: valid) } catch { return fail(error) }
        let local = machine.localDomain
        let answer = { (type: String) in
            XMLElement("result", namespace: Namespace.dialback, attributes: [.init("from", local), .init("to", from), .init("type", type)])
        }
        switch action {
        case .succeed:
            federation.metrics.record { $0.s2sAuthenticated["inbound_dialback", default: 0] += 1 }
            write(answer("valid"))
            bindLink()
        case .refuse, .fail:
            federation.metrics.record { $0.s2sRefused["dialback", default: 0] += 1 }
            logger.info("s2s dialback key did not verify", metadata: ["peer": "\(from)", "address": "\(address)"])
            write(answer("invalid"))
            // XEP-0220 §2.4: an invalid key ends the stream.
            return fail(StreamError(.notAuthorized, "the dialback key for \(from) did not verify"))
        case .none, .challenge:
            return
        }
        drainHeld()
    }

    /// XEP-0220 §2.2.2: we are the authoritative server; say whether the key is ours.
    private func answerVerify(_ element: XMLElement) {
        guard let asker = element[attribute: "from"]?.lowercased(), let to = element[attribute: "to"]?.lowercased(), let id = element[attribute: "id"] else {
            return fail(StreamError(.badFormat, "db:verify needs from, to and id"))
        }
        guard federation.servedDomains.contains(to) else { return fail(StreamError(.hostUnknown, "this server is \(federation.domain)")) }
        let valid = federation.dialback.verify(element.text, receiving: asker, originating: to, streamID: id)
        write(XMLElement("verify", namespace: Namespace.dialback, attributes: [
            .init("from", to), .init("to", asker), .init("id", id), .init("type", valid ? "valid" : "invalid"),
        ]))
    }

    /// The peer is authenticated: its link is established and stanzas flow.
    private func bindLink() {
        guard let domain = machine.restartedIdentity else { return }
        negotiationTimer?.cancel()
        let link = S2SInboundLink(domain: domain, served: federation.servedDomains, maxSenders: federation.configuration.maxSendersPerPeer)
        do { try machine.bound(link) } catch { return fail(error) }
        logger.info("s2s peer authenticated", metadata: ["peer": "\(domain)", "address": "\(address)"])
    }

    private func drainHeld() {
        while let event = machine.nextHeldEvent() { dispatch(event) }
    }

    private func end(_ link: S2SInboundLink) { federation.endSenders(of: link) }

    // MARK: Writing

    private func startTLS() {
        guard let context else { return }
        write(XMLElement("proceed", namespace: Namespace.tls))
        context.flush()
        do {
            let callback = PeerCertificateCheck.callback(trust: federation.trust, recordingInto: certificate)
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: federation.serverTLS, customVerificationCallback: callback),
                                                           position: .first)
        } catch {
            logger.error("TLS handler not installed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        decoder.restart()
    }

    private func writeHeader() {
        guard let context else { return }
        streamID = SCRAMServer.randomNonce()
        context.write(wrapOutboundOut(XMPPStreamEncoder.serverHeader(from: machine.localDomain, to: machine.peerDomain, id: streamID,
                                                                     allocator: context.channel.allocator)), promise: nil)
    }

    private func write(_ element: XMLElement) {
        guard let context else { return }
        context.write(wrapOutboundOut(encoder.encode(element, allocator: context.channel.allocator)), promise: nil)
        context.flush()
    }

    private func fail(_ error: StreamError) {
        guard context != nil, let closing = machine.fail(error) else { return }
        close(closing, quiet: false)
    }

    private func close(_ closing: S2SStateMachine.Closing, quiet: Bool) {
        guard let context else { return }
        if let error = closing.error, !quiet {
            if closing.writeHeader { writeHeader() }
            federation.metrics.record { $0.streamErrors[error.condition.rawValue, default: 0] += 1 }
            logger.info("s2s stream error", metadata: ["address": "\(address)", "peer": "\(machine.peerDomain ?? "-")",
                                                       "condition": "\(error.condition.rawValue)", "reason": "\(error.text)"])
            write(error.element)
        }
        if let (link, _) = closing.lost { end(link) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(encoder.closingTag(allocator: context.channel.allocator))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
        if closeTimer == nil {
            closeTimer = context.eventLoop.scheduleTask(in: .seconds(5)) { bound.value.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension S2SInboundConnection: Sendable {}
