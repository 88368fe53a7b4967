public import AgoraLedger

/// The `[witness]` keys: the logs this gateway witnesses, and the witnesses of its own log.
public struct WitnessConfiguration: Sendable {
    /// The name this gateway cosigns under (`witness.name`); empty: `<domain>/witness`.
    public var name = ""
    /// The logs this gateway witnesses (`witness.logs`). A checkpoint of any other origin
    /// is answered 404.
    public var logs: [WitnessedLog] = []
    /// The witnesses of this gateway's own log (`witness.peers`).
    public var peers: [WitnessPeer] = []
    /// How many of `peers` must cosign a checkpoint for it to count as witnessed
    /// (`witness.min_cosignatures`); 0: all of them.
    public var minCosignatures = 0
    /// PEM certificates trusted for the peers' HTTPS (`witness.ca_file`); empty: the
    /// gateway's own CA.
    public var caFile = ""
    /// Where to connect for a peer's host name (`witness.routes`, `host=address:port`),
    /// for closed networks without DNS; TLS still checks the certificate against the name.
    public var routes: [String: String] = [:]
    /// After this long with fewer than the required cosignatures on the newest checkpoint,
    /// the gateway warns in its log (`witness.alert_after_s`).
    public var alertAfter: Duration = .seconds(300)
    /// `add-checkpoint` requests a second this witness answers (`witness.max_requests_per_second`,
    /// a burst of twice that); beyond, 429. The default is ten times the goal of 100 logs
    /// checkpointing every second.
    public var maxRequestsPerSecond = 1000

    public init() {}

    /// The number of cosignatures a witnessed checkpoint needs.
    public var required: Int { minCosignatures == 0 ? peers.count : min(minCosignatures, peers.count) }

    func cosignerName(domain: String) -> String { name.isEmpty ? "\(domain)/witness" : name }
}

/// A log this gateway witnesses: its origin line and the key that signs its checkpoints.
public struct WitnessedLog: Sendable, Hashable {
    public let origin: String
    public let verifier: NoteVerifier

    /// Parses `VERIFIER-KEY` (an Agora log: the origin is the key's name) or
    /// `ORIGIN VERIFIER-KEY` (any C2SP log, whose origin may differ from its key's name, as
    /// the Go checksum database's does).
    public init(parsing text: String) throws(LedgerError) {
        let trimmed = text.split(separator: " ", omittingEmptySubsequences: true)
        guard let key = trimmed.last else { throw .badKey("a witnessed log is \"[ORIGIN] VERIFIER-KEY\"") }
        verifier = try NoteVerifier(parsing: String(key))
        origin = trimmed.count > 1 ? trimmed.dropLast().joined(separator: " ") : verifier.name
        guard !origin.isEmpty, origin.utf8.count <= 256, !origin.contains("\n") else { throw .badKey("a log origin is one line of up to 256 bytes") }
    }
}

/// One witness of this gateway's log: where it listens and its cosignature key.
public struct WitnessPeer: Sendable, Hashable {
    /// `https://host[:port]` (or `http://` on loopback), the submission prefix.
    public let url: String
    public let host: String
    public let port: Int
    public let tls: Bool
    /// The path the witness answers `add-checkpoint` on.
    public let path: String
    public let verifier: CosignerVerifier

    /// Parses `URL VKEY`.
    public init(parsing text: String) throws(LedgerError) {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 2 else { throw .badKey("a witness is \"URL VERIFIER-KEY\", not \"\(text.prefix(80))\"") }
        let url = String(fields[0])
        let tls: Bool
        let rest: Substring
        if url.hasPrefix("https://") { tls = true; rest = url.dropFirst(8) } else if url.hasPrefix("http://") { tls = false; rest = url.dropFirst(7) } else {
            throw .badKey("a witness URL starts with https:// (or http:// on loopback): \(url.prefix(80))")
        }
        let authority = rest.prefix { $0 != "/" }
        let prefix = rest.dropFirst(authority.count)
        let host: Substring, port: Int
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(number) else {
                throw .badKey("a witness URL's port must be 1…65535: \(url.prefix(80))")
            }
            host = authority[..<colon]; port = number
        } else {
            host = authority; port = tls ? 443 : 80
        }
        guard !host.isEmpty, host.utf8.count <= 253 else { throw .badKey("a witness URL needs a host: \(url.prefix(80))") }
        // Plain HTTP would let anyone on the path forge a witness's answers (its 409 sizes).
        guard tls || ["localhost", "127.0.0.1", "[::1]"].contains(host) || host.hasPrefix("127.") else {
            throw .badKey("a witness beyond loopback must be https://: \(url.prefix(80))")
        }
        self.url = url
        // An IPv6 literal is written in brackets in the URL, connected to without them.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : String(host)
        self.port = port
        self.tls = tls
        self.path = (prefix.hasSuffix("/") ? String(prefix.dropLast()) : String(prefix)) + "/add-checkpoint"
        self.verifier = try CosignerVerifier(parsing: String(fields[1]))
    }
}
