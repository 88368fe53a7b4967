/// Everything the XMPP server can be told, with the defaults a gateway ships with.
public struct XMPPConfiguration: Sendable {
    /// The served domain: accounts are `user@domain`.
    public var domain: String
    /// Address the listeners bind to, and nothing else.
    public var bindAddress: String = "0.0.0.0"
    /// STARTTLS listener (RFC 6120), 0 to disable.
    public var c2sPort: Int = 5222
    /// Direct TLS listener (XEP-0368), 0 to disable.
    public var tlsPort: Int = 5223
    /// STARTTLS before SASL on the c2s port. Turning it off is meant for loopback benchmarks.
    public var tlsRequired = true
    /// SASL PLAIN (only ever offered on a TLS stream).
    public var plainEnabled = false
    public var limits = XMLStreamParser.Limits()
    /// Bound sessions across the server; beyond it new logins get `resource-constraint`.
    public var maxSessions = 10_000
    /// Bound resources per account (RFC 6120 §7.6.2.1: more get `resource-constraint`).
    public var maxResourcesPerAccount = 64
    /// New connections per second from one IP address (0: unlimited).
    public var connectionRatePerIP = 20
    /// Messages kept per offline account.
    public var offlineLimit = 100
    /// Bytes of stored messages kept per offline account, from all senders together (0: no bound).
    public var offlineMaxBytes = 2 << 20
    /// Bytes one sender may have waiting in one account's offline storage, so that one
    /// account cannot fill another's and crowd out everyone else's messages (0: no bound).
    /// Above the stanza limit, so a largest stanza can still be kept.
    public var offlineMaxBytesPerSender = 512 << 10
    /// Ping a client after this much silence, close it if the ping goes unanswered as long (0: never).
    public var pingIntervalSeconds = 300
    /// An unauthenticated stream must bind within this time.
    public var negotiationTimeoutSeconds = 60
    /// How long a XEP-0198 session waits to be resumed after its connection drops.
    public var resumeTimeoutSeconds = 300
    /// Event-loop threads (0: one per available core).
    public var threads = 0
    /// SASL throttling: failures allowed per account and per address before back-off.
    public var authFreeFailuresPerAccount = 3
    public var authFreeFailuresPerAddress = 9
    public var authMaxBackoffSeconds = 60
    /// PEM files of the server certificate chain and its key.
    public var certificateChainFile: String = ""
    public var keyFile: String = ""
    /// PEM of the CA whose client certificates SASL EXTERNAL accepts.
    public var clientCAFile: String = ""
    /// Days a chat stays in its accounts' archives (XEP-0313); 0: nothing is archived.
    public var archiveDays = 30
    /// Messages one archive (an account's, a room's) keeps at most; the oldest go beyond.
    public var archiveMaxMessages = 100_000
    /// Bytes one archive keeps at most; the oldest go beyond.
    public var archiveMaxBytes = 32 << 20
    /// Multi-user chat (XEP-0045) on `rooms.<domain>`.
    public var muc = MUCConfiguration()
    /// Server-to-server federation (`[s2s]`); off unless enabled.
    public var s2s = S2SConfiguration()
    /// Reported by XEP-0092.
    public var softwareVersion = "0"

    public init(domain: String) { self.domain = domain }
}
