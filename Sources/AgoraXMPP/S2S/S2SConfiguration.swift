/// Server-to-server federation (RFC 6120 with `jabber:server`): the `[s2s]` keys.
///
/// Off by default: a gateway on its own needs no port 5269. When on, every peer must use
/// TLS; it authenticates by SASL EXTERNAL with a certificate that chains to `trustFile`
/// and names its domain (XEP-0178), or, unless `requireCertificates`, by Server Dialback
/// (XEP-0220) with keys made as XEP-0185 says.
public struct S2SConfiguration: Sendable {
    /// A fixed place to reach a peer domain, tried instead of DNS (closed networks).
    public struct Route: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var enabled = false
    public var bindAddress = "0.0.0.0"
    public var port = 5269
    /// domain → host:port, used before `_xmpp-server._tcp` SRV records (RFC 6120 §3.2).
    public var routes: [String: Route] = [:]
    /// PEM file of the anchors a peer's certificate must chain to (a city root). Empty: no
    /// peer certificate is trusted, and peers authenticate by dialback.
    public var trustFile = ""
    /// Refuse dialback: a peer must present a certificate that chains to `trustFile`.
    public var requireCertificates = false
    /// Server certificate and key presented to peers (both ways); empty: the c2s ones. It
    /// must name this gateway's domain (a DNS SAN or an xmppAddr, XEP-0178 / RFC 6125).
    public var certificateChainFile = ""
    public var keyFile = ""
    /// The dialback secret (XEP-0185 §3); empty: a random one per start, which is enough
    /// because only this process ever verifies the keys it made.
    public var dialbackSecret: [UInt8] = []
    /// Stanzas waiting for a connection to one domain before more are bounced.
    public var maxQueuedPerDomain = 1000
    /// Inbound s2s streams at once, over all peers.
    public var maxInboundStreams = 1000
    /// Stanzas a peer may send per second (bursts of 4×); beyond, they are refused.
    public var stanzasPerSecondPerPeer = 5000
    /// Remote full JIDs a peer may speak for at once (each holds its IQ bound).
    public var maxSendersPerPeer = 10_000
    /// A link carrying nothing for this long is closed; the next stanza opens a new one.
    public var idleSeconds = 600
    /// Connecting plus negotiating (TLS, authentication) must finish within this.
    public var connectTimeoutSeconds = 15
    /// After a failure, stanzas to that domain bounce at once for a while that doubles up to this.
    public var maxBackoffSeconds = 300

    public init() {}
}
