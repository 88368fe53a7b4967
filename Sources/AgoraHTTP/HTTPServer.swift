public import Logging
internal import AgoraCore
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import NIOSSL
public import ServiceLifecycle

/// The gateway's HTTP/1.1 listener: `/metrics`, health, the dashboard — what is not XMPP.
///
/// Each connection is a pipeline of [TLS] → `HTTPReadMarker` → SwiftNIO's HTTP/1.1 codec
/// (with pipelining and protocol-error handling) → `HTTPRequestAssembler`, wrapped in a
/// `NIOAsyncChannel` of whole requests and responses; the `HTTPResponder` answers each
/// request in async code, one at a time per connection. A `Service`: it runs until
/// graceful shutdown, then closes the listener and every connection.
///
/// Beyond loopback the listener only speaks TLS: starting it otherwise throws.
public final class HTTPServer: Service, Sendable {
    public let configuration: HTTPConfiguration
    public let metrics = HTTPMetrics()
    private let responder: any HTTPResponder
    private let logger: Logger
    private let tls: NIOSSLContext?
    private let connections = NIOLockedValueBox(Connections())

    /// Every open connection, how many per address, and whether the server is stopping
    /// (then a connection accepted late is closed at once).
    private struct Connections {
        var open: [ObjectIdentifier: any Channel] = [:]
        var perAddress: [String: Int] = [:]
        var stopping = false
    }
    private let bound = NIOLockedValueBox<Bound>(.waiting([:], next: 0))

    private enum Bound {
        case waiting([Int: CheckedContinuation<Int?, Never>], next: Int)
        case settled(port: Int?)
    }

    public init(configuration: HTTPConfiguration, responder: any HTTPResponder, logger: Logger) throws(HTTPServerError) {
        guard configuration.hasTLS || configuration.isLoopbackOnly else {
            throw HTTPServerError(.tlsRequired, "http.bind_address \(configuration.bindAddress) is beyond loopback, and no certificate is configured: TLS is required there")
        }
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        do {
            tls = configuration.hasTLS ? try Self.tlsContext(configuration) : nil
        } catch {
            throw HTTPServerError(.tlsFiles, "the HTTP listener's certificate or key cannot be read: \(error)")
        }
    }

    static func tlsContext(_ configuration: HTTPConfiguration) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(configuration.certificateChainFile).map { NIOSSLCertificateSource.certificate($0) }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: configuration.keyFile, format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["http/1.1"]
        if !configuration.clientCAFile.isEmpty {
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(configuration.clientCAFile))
        }
        return try NIOSSLContext(configuration: tls)
    }

    /// The bound port once listening, nil if binding failed (or the waiting task was
    /// cancelled: a service group that stops before the listener started must not hang here).
    public func waitUntilListening() async -> Int? {
        let id = bound.withLockedValue { state -> Int? in
            guard case .waiting(let waiters, let next) = state else { return nil }
            state = .waiting(waiters, next: next + 1)
            return next
        }
        guard let id else { return settledPort }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let settled = bound.withLockedValue { state -> Int?? in
                    switch state {
                    case .waiting(var waiters, let next):
                        waiters[id] = continuation
                        state = .waiting(waiters, next: next)
                        return .none
                    case .settled(let port):
                        return .some(port)
                    }
                }
                if case .some(let port) = settled { continuation.resume(returning: port) }
                if Task.isCancelled { resumeWaiter(id) }
            }
        } onCancel: {
            resumeWaiter(id)
        }
    }

    private var settledPort: Int? {
        bound.withLockedValue { state in
            if case .settled(let port) = state { return port }
            return nil
        }
    }

    /// Resumes one waiter with nil (its task was cancelled), if it still waits.
    private func resumeWaiter(_ id: Int) {
        let waiter = bound.withLockedValue { state -> CheckedContinuation<Int?, Never>? in
            guard case .waiting(var waiters, let next) = state, let waiter = waiters.removeValue(forKey: id) else { return nil }
            state = .waiting(waiters, next: next)
            return waiter
        }
        waiter?.resume(returning: nil)
    }

    private func settle(port: Int?) {
        let waiters = bound.withLockedValue { state -> [CheckedContinuation<Int?, Never>] in
            guard case .waiting(let waiters, _) = state else { return [] }
            state = .settled(port: port)
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener: NIOAsyncChannel<NIOAsyncChannel<HTTPRequest, HTTPResponse>, Never>
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: configuration.bindAddress, port: configuration.port) { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try initializeConnection(channel) }
                }
        } catch {
            settle(port: nil)
            try? await group.shutdownGracefully()
            let reason = (error as? IOError).map { systemErrorText($0.errnoCode) } ?? "\(error)"
            throw HTTPServerError(.bind, "cannot listen on \(configuration.bindAddress):\(configuration.port): \(reason)")
        }
        let port = listener.channel.localAddress?.port
        settle(port: port)
        logger.notice("http listening", metadata: ["http.address": "\(configuration.bindAddress)", "http.port": "\(port ?? 0)", "http.tls": "\(tls != nil)"])
        await withGracefulShutdownHandler {
            try? await listener.executeThenClose { inbound in
                await withDiscardingTaskGroup { connectionTasks in
                    do {
                        for try await connection in inbound {
                            connectionTasks.addTask { await self.serve(connection) }
                        }
                    } catch {
                        logger.debug("http listener stopped", metadata: ["error": "\(error)"])
                    }
                }
            }
        } onGracefulShutdown: { [connections] in
            listener.channel.close(promise: nil)
            let open = connections.withLockedValue { state in
                state.stopping = true
                return Array(state.open.values)
            }
            for channel in open { channel.close(promise: nil) }
        }
        try? await group.shutdownGracefully()
    }

    /// Builds a connection's pipeline (on its event loop), or refuses it — closed at once —
    /// when the listener or the peer's address has its fill of connections.
    func initializeConnection(_ channel: any Channel) throws -> NIOAsyncChannel<HTTPRequest, HTTPResponse> {
        let address = channel.remoteAddress?.ipAddress ?? ""
        let limits = configuration.limits
        let id = ObjectIdentifier(channel)
        let refusal = connections.withLockedValue { state -> HTTPRefusal?? in
            if state.stopping { return .some(nil) }
            let cap = HTTPConfiguration.isLoopback(address) ? limits.maxConnections : limits.maxConnections - limits.loopbackReserve
            guard state.open.count < cap else { return .some(.tooManyConnections) }
            guard state.perAddress[address, default: 0] < limits.maxConnectionsPerAddress else { return .some(.tooManyFromAddress) }
            state.open[id] = channel
            state.perAddress[address, default: 0] += 1
            return .none
        }
        if case .some(let reason) = refusal {
            if let reason { metrics.refused(reason) }
            // A failed child initializer leaves the accepted socket open: close it here.
            channel.close(promise: nil)
            throw HTTPServerError(.tooManyConnections, "HTTP connection refused: \(reason?.rawValue ?? "the server is stopping")")
        }
        metrics.accepted()
        channel.closeFuture.whenComplete { [connections] _ in
            connections.withLockedValue { state in
                state.open[id] = nil
                state.perAddress[address, default: 1] -= 1
                if state.perAddress[address] == 0 { state.perAddress[address] = nil }
            }
        }
        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
        try Self.addHTTPHandlers(to: channel, limits: configuration.limits, metrics: metrics, tls: tls != nil)
        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
    }

    /// The HTTP part of a connection's pipeline, after TLS: raw bytes in, whole
    /// `HTTPRequest`s out, `HTTPResponse`s in the other direction. Also what the fuzz
    /// harness drives over an in-memory channel.
    static func addHTTPHandlers(to channel: any Channel, limits: HTTPConfiguration.Limits, metrics: HTTPMetrics, tls: Bool) throws {
        let operations = channel.pipeline.syncOperations
        let marker = HTTPReadMarker()
        try operations.addHandler(marker)
        try operations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
        try operations.addHandler(HTTPRequestAssembler(limits: limits, metrics: metrics, progress: marker, tls: tls))
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPRequest, HTTPResponse>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await request in inbound {
                    let response = await responder.respond(to: request)
                    try await outbound.write(response)
                    if !request.keepAlive { break }
                }
            }
        } catch {
            logger.debug("http connection ended", metadata: ["error": "\(error)"])
        }
    }
}

/// Why the HTTP listener could not start or refused a connection.
public struct HTTPServerError: Error, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable { case tlsRequired, tlsFiles, bind, tooManyConnections }
    public let code: Code
    public let description: String
    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
}
