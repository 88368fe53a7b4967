internal import NIOCore
internal import NIOPosix
internal import NIOSSL
internal import NIOTLS
internal import AgoraMQTT

/// Why a TLS connection to the broker fails, in words an operator can act on.
///
/// libmosquitto reports every TLS failure as "A TLS error occurred", and OpenSSL's own line
/// says "certificate verify failed" for a foreign CA and for a certificate that does not
/// name the host alike. So when the broker connection fails with a TLS error, the gateway
/// repeats the handshake once with swift-nio-ssl — same CA file, same client certificate,
/// same host name — whose errors tell these apart (`NIOSSLExtraError.failedToValidateHostname`).
enum BrokerTLSDiagnosis {
    /// A sentence saying what is wrong, or nil when this handshake succeeds (the failure
    /// was something else, or passing).
    static func diagnose(host: String, port: Int, tls: MosquittoClient.TLS) async -> String? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tls.caFile))
            if let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
        } catch {
            return "the broker's TLS files cannot be loaded (mqtt.ca_file \(tls.caFile)): \(error)"
        }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: configuration) } catch { return "the broker's TLS settings are unusable: \(error)" }
        let outcome = HandshakeOutcome()
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let name = Self.isAddress(host) ? nil : host
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: name))
                        try channel.pipeline.syncOperations.addHandler(outcome)
                    }
                }
                .connect(host: host, port: port).get()
            defer { channel.close(promise: nil) }
            // A server that never answers ends the wait by the close (channelInactive).
            channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            let result = try await outcome.promise(on: channel.eventLoop).futureResult
                .flatMapError { channel.eventLoop.makeSucceededFuture($0) }.get()
            return describe(result, host: host, port: port, caFile: tls.caFile)
        } catch {
            return "cannot reach the broker at \(host):\(port): \(error)"
        }
    }

    /// nil: the handshake succeeded.
    static func describe(_ error: (any Error)?, host: String, port: Int, caFile: String) -> String? {
        guard let error else { return nil }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "TLS name mismatch: the broker's certificate at \(host):\(port) does not name \(host); set mqtt.host to a name the certificate carries"
        }
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return "the broker's certificate at \(host):\(port) does not chain to mqtt.ca_file \(caFile)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("wrong version number") || error is NIOSSLError {
            return "the TLS handshake with \(host):\(port) failed (\(text)); is that port a TLS listener of the broker?"
        }
        return "the TLS handshake with \(host):\(port) failed: \(text)"
    }

    private static func isAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Completes with nil when the TLS handshake completes, or with the error that ended it.
private final class HandshakeOutcome: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: every access happens on the channel's event loop (handler callbacks, and
    // `promise(on:)` called once right after connect, hopping there).
    typealias InboundIn = ByteBuffer
    private var promise: EventLoopPromise<(any Error)?>?
    private var settled: Result<(any Error)?, Never>?

    func promise(on loop: any EventLoop) -> EventLoopPromise<(any Error)?> {
        let promise = loop.makePromise(of: (any Error)?.self)
        loop.execute {
            if case .success(let value)? = self.settled { promise.succeed(value) } else { self.promise = promise }
        }
        return promise
    }

    private func settle(_ value: (any Error)?) {
        guard settled == nil else { return }
        settled = .success(value)
        promise?.succeed(value)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { settle(nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        settle(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}
