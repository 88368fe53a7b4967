public import AgoraStore
public import AgoraPKI
public import Logging
public import AgoraXMPP
public import AgoraServices
public import AgoraHTTP
public import AgoraMarket
public import AgoraReadings

/// Everything an operator can set, with its default. Read once at start by
/// `AgoraConfiguration+Reader.swift`, which lists every key.
public struct AgoraConfiguration: Sendable {
    /// Where the store (`agora.mdb`) and, by default, the key-encryption key live.
    public var stateDirectory: String
    /// LMDB map: initial size and the ceiling growth stops at.
    public var store: LMDBEnvironment.Options
    /// Group commit: batch size and waiting window.
    public var writer: GroupCommitWriter.Options
    /// Minimum time between two signed checkpoints.
    public var checkpointInterval: Duration
    /// The key-encryption key file; nil means `$CREDENTIALS_DIRECTORY/agora.kek` under
    /// systemd, else `<state dir>/agora.kek`.
    public var kekFile: String?
    public var logLevel: Logger.Level
    /// Validity of issued certificates, per profile.
    public var certificateValidity: CertificateAuthority.Validity
    /// How long a CRL is valid (its nextUpdate).
    public var crlDays: Int
    /// When an account asks for a certificate while it holds a good one: revoke the old one
    /// (`replace`, superseded) or refuse the request (`refuse`). Either way an account holds
    /// one good certificate at a time.
    public var userCertificateExists: ExistingCertificatePolicy = .replace
    /// What one account may make the gateway store through its IQs.
    public var quotas = AccountQuotas.Limits()

    public enum ExistingCertificatePolicy: String, Sendable, Equatable {
        case replace, refuse
    }
    /// Readings retention: by age (0: forever) and by the readings table's size (0: no limit).
    public var readingsRetentionDays: Int
    public var readingsMaxBytes: Int
    /// Overrides of the broker endpoint `agora broker-config` recorded (nil: use the recorded value).
    public var mqtt: MQTTOverrides = .init()
    /// Whether `agora serve` runs the XMPP server, and its settings (the domain comes from the store).
    public var xmppEnabled = true
    public var xmpp = XMPPConfiguration(domain: "")
    /// The HTTP listener (`/metrics`, health, the dashboard); TLS files default to the XMPP
    /// server's certificate when it binds beyond loopback.
    public var http = HTTPConfiguration()
    /// The bearer token `/metrics` and `/status.json` require from peers beyond loopback
    /// (nil: `<state dir>/http/metrics.token`, made with mode 0600 on first need).
    public var httpTokenFile: String?
    /// The token file in effect: `httpTokenFile`, or its default in the state directory.
    public var httpTokenPath: String { httpTokenFile ?? stateDirectory + "/http/metrics.token" }
    /// Host names, besides the domain, `localhost` and IP addresses, by which the HTTP
    /// listener may be reached (a browser names the host; others are refused with 421).
    public var httpAllowedHosts: [String] = []
    /// `[witness]`: the logs this gateway witnesses and the witnesses of its own log.
    public var witness = WitnessConfiguration()
    /// `[trust]`: how purchases are rated and how the trust model scores services.
    public var trust = TrustPolicy()
    /// `[live]`: pushing readings to subscribers as they are committed (XEP-0060).
    public var live = LiveConfiguration()
    /// `[muc]`'s `creators`: who may create rooms (the other `[muc]` keys live in `xmpp.muc`).
    public var roomCreators = RoomCreators.owners
    /// `[registry]`: a city-wide XEP-0347 registry kept here, or the one this gateway registers at.
    public var registry = Registry()
    /// `s2s.dialback_secret_file`: read at start into `xmpp.s2s.dialbackSecret` (empty: random).
    public var s2sDialbackSecretFile = ""
    /// How often `agora serve` seals every sensor's measured reliability (0: never), and
    /// the physical range of each kind that measure checks readings against.
    public var reliabilityIntervalSeconds = 86_400
    public var kindRanges = KindRanges.defaults

    public struct MQTTOverrides: Sendable, Equatable {
        public var host: String?
        public var port: Int?
        public var prefix: String?
        public var caFile: String?
        public var certificateFile: String?
        public var keyFile: String?
        public init() {}
    }

    public static let defaultStateDirectory = "/var/lib/agora"

    public init(stateDirectory: String = AgoraConfiguration.defaultStateDirectory,
                store: LMDBEnvironment.Options = .init(),
                writer: GroupCommitWriter.Options = .init(),
                checkpointInterval: Duration = .seconds(1),
                kekFile: String? = nil,
                logLevel: Logger.Level = .info,
                certificateValidity: CertificateAuthority.Validity = .init(),
                crlDays: Int = 7,
                readingsRetentionDays: Int = 365,
                readingsMaxBytes: Int = 8 << 30) {
        self.stateDirectory = stateDirectory
        self.store = store
        self.writer = writer
        self.checkpointInterval = checkpointInterval
        self.kekFile = kekFile
        self.logLevel = logLevel
        self.certificateValidity = certificateValidity
        self.crlDays = crlDays
        self.readingsRetentionDays = readingsRetentionDays
        self.readingsMaxBytes = readingsMaxBytes
    }

    public var storePath: String { stateDirectory + "/" + Store.fileName }

    /// The key-encryption key file this configuration resolves to.
    public func resolvedKEKFile(environment: [String: String]) -> String {
        if let kekFile, !kekFile.isEmpty { return kekFile }
        if let credentials = environment["CREDENTIALS_DIRECTORY"], !credentials.isEmpty {
            return credentials + "/agora.kek"
        }
        return stateDirectory + "/agora.kek"
    }
}
