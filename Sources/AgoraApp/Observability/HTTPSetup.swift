internal import AgoraCore
internal import AgoraHTTP
internal import AgoraXMPP
internal import Logging
internal import ServiceLifecycle
#if canImport(Glibc)
internal import Glibc
#endif

/// Wires the HTTP listener to the gateway: its TLS files (beyond loopback: the XMPP
/// server's certificate unless `http.cert_file` names one), the bearer token for
/// `/metrics` from beyond loopback, and the routes.
enum HTTPSetup {
    /// The listener for `telemetry`'s gateway, or nil when `http.port = 0`.
    static func server(for telemetry: GatewayTelemetry, metrics: GatewayMetrics, domain: String,
                       xmpp: XMPPConfiguration?, witness: WitnessEndpoint? = nil, logger: Logger) throws -> HTTPServer? {
        let gateway = telemetry.gateway
        var configuration = gateway.configuration.http
        guard configuration.port > 0 else { return nil }
        var token: [UInt8] = []
        if !configuration.isLoopbackOnly {
            if !configuration.hasTLS, let xmpp, !xmpp.certificateChainFile.isEmpty {
                configuration.certificateChainFile = xmpp.certificateChainFile
                configuration.keyFile = xmpp.keyFile
            }
            if configuration.clientCAFile.isEmpty, let xmpp { configuration.clientCAFile = xmpp.clientCAFile }
            token = try loadToken(gateway.configuration.httpTokenPath, logger: logger)
        }
        let xmppSettings = gateway.configuration.xmpp
        let routes = GatewayRoutes(
            telemetry: telemetry, metrics: metrics, sessions: DashboardSessions(),
            login: DashboardLogin(credentials: CredentialStore(store: gateway.store), accounts: XMPPSetup.accountHooks(for: gateway),
                                  throttles: telemetry.xmpp?.authThrottles, freeFailures: xmppSettings.authFreeFailuresPerAccount, maxBackoffSeconds: xmppSettings.authMaxBackoffSeconds),
            token: token, domain: domain, allowedHosts: Set(gateway.configuration.httpAllowedHosts), witness: witness, logger: logger)
        do {
            return try HTTPServer(configuration: configuration, responder: routes, logger: logger)
        } catch {
            throw GatewayError.file(configuration.certificateChainFile, error.description)
        }
    }

    /// The token in `path`; made (32 random bytes, hex, mode 0600) when the file is missing.
    /// A token file others may read is refused: it would let them read the metrics.
    static func loadToken(_ path: String, logger: Logger) throws -> [UInt8] {
        if !FileSystem.exists(path) {
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if !directory.isEmpty { try FileSystem.makeDirectory(directory, mode: 0o700) }
            try FileSystem.write(Array((DashboardSessions.randomToken() + "\n").utf8), to: path, mode: 0o600)
            logger.notice("made the bearer token for /metrics beyond loopback", metadata: ["http.token_file": "\(path)"])
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw GatewayError.file(path, "cannot read the HTTP bearer token file") }
        guard info.st_mode & 0o077 == 0 else {
            throw GatewayError.file(path, "the HTTP bearer token file must not be readable by group or others (chmod 600)")
        }
        let text: String
        do { text = String(try AgoraConfiguration.readText(path).filter { !$0.isWhitespace }) } catch {
            throw GatewayError.file(path, "cannot read the HTTP bearer token file: \(error)")
        }
        guard text.utf8.count >= 32 else { throw GatewayError.file(path, "the HTTP bearer token must be at least 32 characters") }
        return Array(text.utf8)
    }
}

/// Runs the HTTP listener as a part the gateway can do without: when its port cannot be
/// bound (taken by another program, say after an upgrade), the error is logged and the
/// gateway goes on serving XMPP and ingesting readings — metrics and the dashboard are off
/// until the next start, and Prometheus' `up` (the `AgoraDown` alert) says so. Any other
/// failure of the listener stops the gateway, as a failing service does.
struct ObservabilityListener: Service {
    let server: HTTPServer
    let logger: Logger

    func run() async throws {
        do {
            try await server.run()
        } catch let error as HTTPServerError where error.code == .bind {
            logger.error("the HTTP listener is off: metrics, health checks and the dashboard are unavailable until the next start",
                         metadata: ["error": "\(error)"])
            try? await gracefulShutdown()
        }
    }
}
