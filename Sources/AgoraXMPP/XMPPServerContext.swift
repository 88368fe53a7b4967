public import AgoraCore
internal import Logging
internal import NIOSSL
internal import NIOCore

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

    init(configuration: XMPPConfiguration, router: StanzaRouter, credentials: CredentialStore, accounts: XMPPAccountHooks,
         metrics: XMPPMetrics, tls: NIOSSLContext?, logger: Logger) {
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

