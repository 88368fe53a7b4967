public import AgoraCore
internal import Logging
internal import NIOSSL
internal import NIOCore
internal import NIOPosix

/// How the server learns about accounts without depending on the market: the composition
/// root supplies these from the ledger's tables and the certificate authority.
public struct XMPPAccountHooks: Sendable {
    /// Whether an account exists (and so may log in, receive messages, have a roster).
    public var exists: @Sendable (BareJID) -> Bool
    /// The account a verified client certificate (DER) names through its xmppAddr, or nil
    /// when it names none or was revoked.
    public var certificateIdentity: @Sendable ([UInt8]) -> BareJID?

    public init(exists: @escaping @Sendable (BareJID) -> Bool, certificateIdentity: @escaping @Sendable ([UInt8]) -> BareJID?) {
        self.exists = exists
        self.certificateIdentity = certificateIdentity
    }
}

/// What every connection of one server shares.
final class XMPPServerContext: Sendable {
    let configuration: XMPPConfiguration
    let router: StanzaRouter
    let credentials: CredentialStore
    let accounts: XMPPAccountHooks
    let accountThrottle: AuthThrottle
    let addressThrottle: AuthThrottle
    let limiter: ConnectionLimiter
    let metrics: XMPPMetrics
    let tls: NIOSSLContext?
    let logger: Logger
    let streamErrorLog = LogBudget()
    let authFailureLog = LogBudget()
    /// Where connections run what would block an event loop: SASL's LMDB reads (account,
    /// stored keys, certificate identity) and PLAIN's PBKDF2. Started by `startBlockingWork`
    /// when the server runs, stopped by `stopBlockingWork` before its event loops are.
    /// nil: such work runs inline, on the calling event loop — only for the fuzz harness,
    /// which must be deterministic and must not leave pool threads behind each input.
    private let blockingPool: NIOThreadPool?

    init(configuration: XMPPConfiguration, router: StanzaRouter, credentials: CredentialStore, accounts: XMPPAccountHooks,
         metrics: XMPPMetrics, tls: NIOSSLContext?, logger: Logger, blockingWorkInline: Bool = false) {
        self.configuration = configuration
        self.router = router
        self.credentials = credentials
        self.accounts = accounts
        self.metrics = metrics
        self.tls = tls
        self.logger = logger
        let backoff = TimeAmount.seconds(Int64(configuration.authMaxBackoffSeconds))
        accountThrottle = AuthThrottle(policy: .init(freeFailures: configuration.authFreeFailuresPerAccount, maxBackoff: backoff))
        addressThrottle = AuthThrottle(policy: .init(freeFailures: configuration.authFreeFailuresPerAddress, maxBackoff: backoff))
        // Unauthenticated connections count too, so allow some headroom over bound sessions.
        limiter = ConnectionLimiter(maxConnections: configuration.maxSessions + configuration.maxSessions / 4 + 16,
                                    ratePerSecond: configuration.connectionRatePerIP)
        blockingPool = blockingWorkInline ? nil
            : NIOThreadPool(numberOfThreads: max(2, configuration.threads > 0 ? configuration.threads : System.coreCount))
    }

    var authenticator: SASLAuthenticator { SASLAuthenticator(server: self) }

    func startBlockingWork() { blockingPool?.start() }

    /// Waits for the work in progress; work not yet started fails (`runBlocking`'s future),
    /// so call it while the event loops still run.
    func stopBlockingWork() async { try? await blockingPool?.shutdownGracefully() }

    /// Runs `body` on the blocking pool; the future completes on `loop`. It fails when the
    /// pool is not running (not started, or stopping).
    func runBlocking<Result: Sendable>(on loop: any EventLoop, _ body: @escaping @Sendable () -> Result) -> EventLoopFuture<Result> {
        guard let blockingPool else { return loop.makeSucceededFuture(body()) }
        return blockingPool.runIfActive(eventLoop: loop, body)
    }

    var domain: String { configuration.domain }

    /// Logs a refusal at info, within `budget`.
    func logRefusal(_ message: Logger.Message, budget: LogBudget, metadata: Logger.Metadata) {
        let (allowed, suppressed) = budget.spend()
        guard allowed else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed_since_last"] = "\(suppressed)" }
        logger.info(message, metadata: metadata)
    }

    /// SCRAM keys for a username (a localpart), when that account exists and has a password.
    func scramKeys(username: String, hash: SCRAMHash) -> SCRAMKeys? {
        guard let jid = try? BareJID("\(username)@\(domain)"), accounts.exists(jid) else { return nil }
        return credentials.credentials(for: jid)?.keys(for: hash)
    }
}

