internal import AgoraCore
internal import FoundationEssentials
internal import NIOCore
internal import NIOSSL

/// SASL on a c2s stream (RFC 6120 §6): the connection's side. The decisions are the
/// `SASLAuthenticator`'s and the state machine's; this runs the blocking first step on the
/// server's thread pool, brings the outcome back to the event loop, and performs it —
/// the answer to the client, the throttles and metrics, the decoder restart on success.
extension C2SConnection {
    func authenticate(mechanism: String, initialResponse: String) {
        guard server.addressThrottle.blocked(address) == nil else {
            return authenticationCompleted(.throttled(SASLFailure(.temporaryAuthFailure, "too many failures from this address")))
        }
        guard let data = SASLAuthenticator.decodeBase64(initialResponse) else {
            return authenticationCompleted(.refused(SASLFailure(.incorrectEncoding, "the initial response is not base64")))
        }
        guard let context else { return }
        let certificate = mechanism == "EXTERNAL" ? peerCertificate(context) : nil
        let authenticator = server.authenticator
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        // Key look-ups and PBKDF2 block: off the loop. Until the outcome is back the machine
        // holds whatever else the client sends; if the stream ends meanwhile, it drops the outcome.
        server.runBlocking(on: context.eventLoop) {
            authenticator.start(mechanism: mechanism, initialResponse: data, certificate: certificate)
        }.whenComplete { result in
            switch result {
            case .success(let outcome):
                this.value.authenticationCompleted(outcome)
            case .failure:
                // The pool is stopped: the server is shutting down.
                this.value.authenticationCompleted(.refused(SASLFailure(.temporaryAuthFailure, "the server is stopping")))
            }
        }
    }

    /// Performs the machine's answer to an authentication outcome, then gives it back what
    /// it held meanwhile.
    func authenticationCompleted(_ outcome: SASLOutcome<BareJID>) {
        let action: C2SStateMachine.AuthenticationAction
        do { action = try machine.authenticationCompleted(outcome) } catch { return fail(error) }
        switch action {
        case .none:
            return
        case .challenge(let serverFirst):
            write(XMLElement("challenge", namespace: Namespace.sasl, text: Data(serverFirst).base64EncodedString()))
        case .succeed(let jid, let additionalData):
            server.accountThrottle.succeeded(jid.localpart)
            server.metrics.record { $0.logins += 1 }
            let payload = additionalData.map { Data($0).base64EncodedString() } ?? ""
            write(XMLElement("success", namespace: Namespace.sasl, children: payload.isEmpty ? [] : [.text(payload)]))
            decoder.restart()
        case .fail(let failure, let account):
            server.metrics.record { $0.authFailures += 1 }
            server.addressThrottle.failed(address)
            if let account { server.accountThrottle.failed(account.lowercased()) }
            server.logRefusal("authentication failed", budget: server.authFailureLog, metadata: ["address": "\(address)", "reason": "\(failure.reason)"])
            write(failure.element)
        case .refuse(let failure, let throttled):
            if throttled { server.metrics.record { $0.authThrottled += 1 } }
            write(failure.element)
        }
        while let event = machine.nextHeldEvent() { dispatch(event) }
    }

    /// The DER of the client certificate NIOSSL verified against the Agora CA, if any.
    func peerCertificate(_ context: ChannelHandlerContext) -> [UInt8]? {
        guard let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
              let certificate = handler.peerCertificate else { return nil }
        return try? certificate.toDERBytes()
    }
}
