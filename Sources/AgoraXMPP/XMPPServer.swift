public import AgoraStore
public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOPosix
internal import NIOSSL
public import ServiceLifecycle

/// The c2s server: a STARTTLS listener and a direct-TLS listener (XEP-0368) on SwiftNIO,
/// each connection a pipeline of [TLS] → idle timer → `XMPPStreamDecoder` → `C2SConnection`.
///
/// A `Service`: it runs until graceful shutdown, then ends every stream with
/// `system-shutdown` and closes the listeners.
public final class XMPPServer: Service, Sendable {
    public let configuration: XMPPConfiguration
    public let sessions: SessionRegistry
    public let metrics = XMPPMetrics()
    private let context: XMPPServerContext
    private let boundPorts = NIOLockedValueBox<[Int]>([])
    /// Whether the listeners are bound (readiness for systemd), or who waits to know.
    private let listening = NIOLockedValueBox(Listening.waiting([]))

    private enum Listening {
        case waiting([CheckedContinuation<Bool, Never>])
        case settled(bound: Bool)
    }

    /// - Parameter services: application IQ handlers (AgoraServices); the core ones are added here.
    public init(configuration: XMPPConfiguration, store: Store, accounts: XMPPAccountHooks,
                services: IQRouter = IQRouter(), logger: Logger) throws {
        self.configuration = configuration
        let sessions = SessionRegistry()
        self.sessions = sessions
        let box = RouterBox()
        var iq = services
        CoreServices.register(into: &iq, router: { box.router! }, name: "Agora", version: configuration.softwareVersion)
        let router = StanzaRouter(domain: configuration.domain, sessions: sessions, iq: iq, roster: RosterStore(store: store),
                                  offline: OfflineStore(store: store, limit: configuration.offlineLimit, maxBytes: configuration.offlineMaxBytes,
                                                       maxBytesPerSender: configuration.offlineMaxBytesPerSender),
                                  accountExists: accounts.exists, metrics: metrics, logger: logger)
        box.router = router
        context = XMPPServerContext(configuration: configuration, router: router, credentials: CredentialStore(store: store),
                                    accounts: accounts, metrics: metrics, tls: try Self.tlsContext(configuration), logger: logger)
    }

    /// The ports actually bound, in listener order.
    public var ports: [Int] { boundPorts.withLockedValue { $0 } }

    /// Returns true once every listener is bound (at once if they already are), false if
    /// binding failed: `run()` then throws, and the service group stops.
    public func waitUntilListening() async -> Bool {
        await withCheckedContinuation { continuation in
            let settled = listening.withLockedValue { state -> Bool? in
                switch state {
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                case .settled(let bound):
                    return bound
                }
            }
            if let settled { continuation.resume(returning: settled) }
        }
    }

    /// Tells every waiter whether the listeners were bound; later waiters learn it at once.
    private func settleListening(bound: Bool) {
        let waiters = listening.withLockedValue { state -> [CheckedContinuation<Bool, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .settled(bound: bound)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: bound) }
    }

    static func tlsContext(_ configuration: XMPPConfiguration) throws -> NIOSSLContext? {
        guard !configuration.certificateChainFile.isEmpty, !configuration.keyFile.isEmpty else { return nil }
        let chain = try NIOSSLCertificate.fromPEMFile(configuration.certificateChainFile).map { NIOSSLCertificateSource.certificate($0) }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: configuration.keyFile, format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["xmpp-client"]  // XEP-0368 ALPN
        if !configuration.clientCAFile.isEmpty {
            // Client certificates are optional (SCRAM needs none) but, when offered, must chain to the Agora CA.
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(configuration.clientCAFile))
        }
        return try NIOSSLContext(configuration: tls)
    }

    public func run() async throws {
        let threads = configuration.threads > 0 ? configuration.threads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var listeners: [any Channel] = []
        context.startBlockingWork()
        do {
            if configuration.tlsRequired, context.tls == nil {
                throw XMPPServerError.configuration("TLS is required but no server certificate is configured")
            }
            if configuration.c2sPort > 0 {
                listeners.append(try await listen(group: group, port: configuration.c2sPort, directTLS: false))
            }
            if configuration.tlsPort > 0 {
                guard context.tls != nil else { throw XMPPServerError.configuration("direct TLS needs a server certificate") }
                listeners.append(try await listen(group: group, port: configuration.tlsPort, directTLS: true))
            }
        } catch {
            for listener in listeners { try? await listener.close() }
            await context.stopBlockingWork()
            try? await group.shutdownGracefully()
            // Whoever waits for the listeners (readiness) must learn they will never be bound,
            // or the service group, stopping because of this error, waits for it forever.
            settleListening(bound: false)
            throw error
        }
        boundPorts.withLockedValue { $0 = listeners.compactMap { $0.localAddress?.port } }
        settleListening(bound: true)
        context.logger.notice("xmpp listening", metadata: [
            "domain": "\(configuration.domain)", "address": "\(configuration.bindAddress)", "ports": "\(ports)",
            "tls_required": "\(configuration.tlsRequired)", "threads": "\(threads)",
        ])
        if !configuration.tlsRequired {
            context.logger.warning("xmpp accepts unencrypted streams (xmpp.tls_required = false); use this on loopback only")
        }
        try? await gracefulShutdown()
        for listener in listeners { try? await listener.close() }
        for session in sessions.allSessions() {
            let connection = session.state.withLockedValue { $0.connection }
            connection?.eventLoop.execute {
                (connection?.value as? C2SConnection)?.fail(StreamError(.systemShutdown, "the gateway is shutting down"))
            }
        }
        try? await Task.sleep(for: .milliseconds(200))
        // Sessions waiting for resumption end too: what they hold goes to offline storage,
        // and the store is not closed before those writes are durable.
        for session in sessions.allSessions() { SessionLifecycle(server: context).end(session) }
        await context.router.drainOfflineWrites(timeout: .seconds(10))
        await context.stopBlockingWork()
        try? await group.shutdownGracefully()
    }

    private func listen(group: MultiThreadedEventLoopGroup, port: Int, directTLS: Bool) async throws -> any Channel {
        let context = context
        let configuration = configuration
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if directTLS, let tls = context.tls { try operations.addHandler(NIOSSLServerHandler(context: tls)) }
                    if configuration.pingIntervalSeconds > 0 {
                        try operations.addHandler(IdleStateHandler(readTimeout: .seconds(Int64(configuration.pingIntervalSeconds))))
                    }
                    let decoder = XMPPStreamDecoder(limits: configuration.limits)
                    try operations.addHandler(decoder)
                    try operations.addHandler(C2SConnection(server: context, decoder: decoder, directTLS: directTLS))
                }
            }
            .bind(host: configuration.bindAddress, port: port)
            .get()
    }
}

public enum XMPPServerError: Error, CustomStringConvertible {
    case configuration(String)
    public var description: String {
        switch self {
        case .configuration(let text): "xmpp: \(text)"
        }
    }
}

/// Lets the core IQ handlers reach the router that is built after them.
private final class RouterBox: @unchecked Sendable {
    var router: StanzaRouter?
}
