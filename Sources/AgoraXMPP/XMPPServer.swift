public import AgoraStore
internal import AgoraCore
public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOPosix
internal import NIOSSL
public import ServiceLifecycle

/// The c2s server: a STARTTLS listener and a direct-TLS listener (XEP-0368) on SwiftNIO,
/// each connection a pipeline of [TLS] → idle timer → `XMPPStreamDecoder` → `C2SConnection`.
///
/// A `Service`: it runs until graceful shutdown, then closes the listeners, ends every
/// stream with `system-shutdown`, waits for the connections to close and for the server's
/// work (`ServerWork`, a task group `run` owns) to finish, so nothing outlives it.
public final class XMPPServer: Service, Sendable {
    public let configuration: XMPPConfiguration
    public let sessions: SessionRegistry
    public let metrics = XMPPMetrics()
    private let context: XMPPServerContext
    /// The multi-user chat service, when enabled.
    private let muc: MUCService?
    /// Server-to-server federation, when enabled.
    private let federation: S2SFederation?
    let work = ServerWork()
    /// Every accepted connection until it closes, so shutdown can end them and wait.
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let boundPorts = NIOLockedValueBox<[Int]>([])
    /// Whether the listeners are bound (readiness for systemd), or who waits to know.
    private let listening = NIOLockedValueBox(Listening.waiting([]))

    private enum Listening {
        case waiting([CheckedContinuation<Bool, Never>])
        case settled(bound: Bool)
    }

    /// - Parameter services: application IQ handlers (AgoraServices); the core ones are added here.
    /// - Parameters:
    ///   - sessions: the routing table, passed in when a component delivers to sessions too.
    ///   - components: services on addresses of their own (`pubsub.<domain>`).
    public init(configuration: XMPPConfiguration, store: Store, accounts: XMPPAccountHooks,
                services: IQRouter = IQRouter(), sessions: SessionRegistry = SessionRegistry(), components: [XMPPComponent] = [],
                serverRequests: [String: ServerRequestHandler] = [:], logger: Logger) throws {
        self.configuration = configuration
        self.sessions = sessions
        let federation = configuration.s2s.enabled
            ? try S2SFederation(configuration: configuration.s2s, domain: configuration.domain, certificateChainFile: configuration.certificateChainFile,
                                keyFile: configuration.keyFile, limits: configuration.limits, metrics: metrics, logger: logger) : nil
        let (router, muc) = try Self.router(configuration: configuration, store: store, accountExists: accounts.exists, services: services,
                                            sessions: sessions, components: components, work: work, federation: federation,
                                            serverRequests: serverRequests, metrics: metrics, logger: logger)
        federation?.attach(router)
        self.federation = federation
        self.muc = muc
        context = XMPPServerContext(configuration: configuration, router: router, credentials: CredentialStore(store: store),
                                    accounts: accounts, metrics: metrics, tls: try Self.tlsContext(configuration), logger: logger)
    }

    /// The router with every service the server answers: the application's IQs (`services`),
    /// private storage, personal eventing, the core services, message archives, block lists,
    /// and the multi-user chat component when enabled. What `init` builds, and the fuzz
    /// harness too, so both route the same way.
    static func router(configuration: XMPPConfiguration, store: Store, accountExists: @escaping @Sendable (BareJID) -> Bool, services: IQRouter,
                       sessions: SessionRegistry, components: [XMPPComponent], work: ServerWork, federation: S2SFederation? = nil,
                       serverRequests: [String: ServerRequestHandler] = [:], metrics: XMPPMetrics, logger: Logger) throws -> (router: StanzaRouter, muc: MUCService?) {
        let box = RouterBox()
        var iq = services
        PrivateStorage.register(into: &iq, store: store)
        PersonalEventing.register(into: &iq, store: store, router: { box.router! })
        var components = components
        let archive = MessageArchive(store: store, settings: .init(retentionDays: configuration.archiveDays, maxPerArchive: configuration.archiveMaxMessages,
                                                                     maxBytesPerArchive: configuration.archiveMaxBytes),
                                     logger: logger)
        let muc = configuration.muc.enabled
            ? try MUCService(domain: configuration.domain, configuration: configuration.muc, store: store, archive: archive, metrics: metrics, logger: logger) : nil
        if let muc { components.append(muc.component) }
        CoreServices.register(into: &iq, router: { box.router! }, name: "Agora", version: configuration.softwareVersion, components: components)
        let router = StanzaRouter(domain: configuration.domain, sessions: sessions, iq: iq, components: components, roster: RosterStore(store: store),
                                  offline: OfflineStore(store: store, limit: configuration.offlineLimit, maxBytes: configuration.offlineMaxBytes,
                                                       maxBytesPerSender: configuration.offlineMaxBytesPerSender),
                                  blockList: try BlockList(store: store), archive: archive, accountExists: accountExists, work: work,
                                  federation: federation, serverRequests: serverRequests, metrics: metrics, logger: logger)
        box.router = router
        muc?.attach(router)
        return (router, muc)
    }

    /// Connections and sessions by where they are: `negotiating` (connected, not yet bound:
    /// TLS, SASL or bind in progress), `bound` (a session with its connection), `detached`
    /// (a XEP-0198 session waiting to be resumed, no connection).
    public var sessionStates: (negotiating: Int, bound: Int, detached: Int) {
        let open = connections.withLockedValue { $0.count }
        let all = sessions.allSessions()
        let detached = all.reduce(0) { $0 + ($1.isDetached ? 1 : 0) }
        let bound = all.count - detached
        return (max(0, open - bound), bound, detached)
    }

    /// The SASL back-off, per account (its localpart, lowercased) and per address: shared
    /// with every other way to log in to the gateway, so none is a cheaper way to guess.
    public var authThrottles: (account: AuthThrottle, address: AuthThrottle) { (context.accountThrottle, context.addressThrottle) }

    /// Rooms and their occupants (nil: multi-user chat is off).
    public var roomCounts: (rooms: Int, occupants: Int)? {
        muc?.rooms.withLockedValue { rooms in (rooms.count, rooms.values.reduce(0) { $0 + $1.occupants.count }) }
    }

    /// Sends a stanza in the server's own name (`from` its domain) to another domain, over
    /// federation; false when this server does not federate. Answers to it are dropped.
    @discardableResult
    public func sendAsServer(_ stanza: XMLElement) -> Bool {
        guard let federation else { return false }
        var stanza = stanza
        stanza[attribute: "from"] = configuration.domain
        federation.send(stanza)
        return true
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
        // The server's work runs beside the listeners for exactly as long as run() does.
        async let working: Void = work.run()
        do {
            try await serve()
        } catch {
            await work.finish(timeout: .seconds(10))
            await working
            throw error
        }
        await working
    }

    /// Runs the server's work and its blocking pool, but no listener, around `body`: for
    /// tests that drive connections over in-memory channels (`initializeConnection`).
    func withoutListeners(_ body: () async throws -> Void) async throws {
        context.startBlockingWork()
        async let working: Void = work.run()
        do {
            try await body()
        } catch {
            await work.finish(timeout: .seconds(10))
            await working
            await context.stopBlockingWork()
            throw error
        }
        await work.finish(timeout: .seconds(10))
        await working
        await context.stopBlockingWork()
    }

    private func serve() async throws {
        let threads = configuration.threads > 0 ? configuration.threads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var listeners: [any Channel] = []
        context.startBlockingWork()
        do {
            if configuration.tlsRequired, context.tls == nil {
                throw XMPPServerError.configuration("TLS is required but no server certificate is configured")
            }
            // Federation first: a client's first stanza to another domain may come at once.
            federation?.start(group: group)
            if configuration.c2sPort > 0 {
                listeners.append(try await listen(group: group, port: configuration.c2sPort, directTLS: false))
            }
            if configuration.tlsPort > 0 {
                guard context.tls != nil else { throw XMPPServerError.configuration("direct TLS needs a server certificate") }
                listeners.append(try await listen(group: group, port: configuration.tlsPort, directTLS: true))
            }
            if let federation { listeners.append(try await listenForServers(group: group, federation: federation)) }
        } catch {
            for listener in listeners { try? await listener.close() }
            await federation?.stop()
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
        await closeConnections()
        // Sessions waiting for resumption end too: what they hold goes to offline storage,
        // and the store is not closed before those writes are durable.
        for session in sessions.allSessions() { SessionLifecycle(server: context).end(session) }
        if await !work.finish(timeout: .seconds(10)) {
            context.logger.warning("xmpp work still running 10 s into shutdown was cancelled")
        }
        // Last: what the ending sessions told remote contacts (unavailable) has gone out.
        await federation?.stop()
        await context.stopBlockingWork()
        try? await group.shutdownGracefully()
    }

    /// Ends every stream with `system-shutdown` and waits until each connection is closed
    /// (a connection whose peer never reads closes by its own 5 s timer).
    private func closeConnections() async {
        let open = connections.withLockedValue { Array($0.values) }
        for channel in open {
            channel.eventLoop.execute {
                guard let connection = try? channel.pipeline.syncOperations.handler(type: C2SConnection.self) else {
                    channel.close(promise: nil)
                    return
                }
                connection.fail(StreamError(.systemShutdown, "the gateway is shutting down"))
            }
        }
        for channel in open { try? await channel.closeFuture.get() }
    }

    /// Builds a connection's pipeline: [TLS] → idle timer → `XMPPStreamDecoder` →
    /// `C2SConnection`. Called on the channel's event loop (by the listener, and by tests
    /// that drive a connection over an in-memory channel).
    func initializeConnection(_ channel: any Channel, directTLS: Bool) throws {
        let operations = channel.pipeline.syncOperations
        if directTLS, let tls = context.tls { try operations.addHandler(NIOSSLServerHandler(context: tls)) }
        if configuration.pingIntervalSeconds > 0 {
            try operations.addHandler(IdleStateHandler(readTimeout: .seconds(Int64(configuration.pingIntervalSeconds))))
        }
        let decoder = XMPPStreamDecoder(limits: configuration.limits)
        try operations.addHandler(decoder)
        try operations.addHandler(C2SConnection(server: context, decoder: decoder, directTLS: directTLS))
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        connections.withLockedValue { $0[id] = channel }
        let connections = connections
        channel.closeFuture.whenComplete { _ in _ = connections.withLockedValue { $0.removeValue(forKey: id) } }
    }

    private func listen(group: MultiThreadedEventLoopGroup, port: Int, directTLS: Bool) async throws -> any Channel {
        do {
            return try await bind(group: group, port: port, directTLS: directTLS)
        } catch let error as IOError {
            throw XMPPServerError.cannotListen(address: configuration.bindAddress, port: port, reason: systemErrorText(error.errnoCode))
        } catch {
            throw XMPPServerError.cannotListen(address: configuration.bindAddress, port: port, reason: "\(error)")
        }
    }

    /// The s2s listener (RFC 6120 §4.2, port 5269): [TLS on STARTTLS] → idle timer →
    /// `XMPPStreamDecoder` (the c2s limits) → `S2SInboundConnection`.
    private func listenForServers(group: MultiThreadedEventLoopGroup, federation: S2SFederation) async throws -> any Channel {
        let s2s = configuration.s2s
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    track(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        try operations.addHandler(IdleStateHandler(readTimeout: .seconds(Int64(s2s.idleSeconds))))
                        let decoder = XMPPStreamDecoder(limits: configuration.limits)
                        try operations.addHandler(decoder)
                        try operations.addHandler(S2SInboundConnection(federation: federation, decoder: decoder))
                    }
                }
                .bind(host: s2s.bindAddress, port: s2s.port)
                .get()
        } catch let error as IOError {
            throw XMPPServerError.cannotListen(address: s2s.bindAddress, port: s2s.port, reason: systemErrorText(error.errnoCode))
        }
    }

    private func bind(group: MultiThreadedEventLoopGroup, port: Int, directTLS: Bool) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                track(channel)
                return channel.eventLoop.makeCompletedFuture { try initializeConnection(channel, directTLS: directTLS) }
            }
            .bind(host: configuration.bindAddress, port: port)
            .get()
    }
}

public enum XMPPServerError: Error, CustomStringConvertible {
    case configuration(String)
    /// A listener could not be bound: the address, the port and the system's reason.
    case cannotListen(address: String, port: Int, reason: String)
    public var description: String {
        switch self {
        case .configuration(let text): "xmpp: \(text)"
        case .cannotListen(let address, let port, let reason): "cannot listen on \(address):\(port): \(reason)"
        }
    }
}

/// Lets the core IQ handlers reach the router that is built after them.
///
/// `@unchecked Sendable`: `router` is written once, in `XMPPServer.router`, before the server
/// exists for anyone to run; handlers read it only once a listener accepted a connection,
/// which happens after `run()` starts, so every read happens-after the one write.
private final class RouterBox: @unchecked Sendable {
    var router: StanzaRouter?
}
