internal import AgoraCore
internal import AgoraXMPP

/// The `[s2s]` keys (issue 19): XMPP server-to-server federation (RFC 6120, XEP-0178,
/// XEP-0220). Read like every other key (`AgoraConfiguration+Reader.swift`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `s2s.enabled` | false | listen for and open server-to-server streams |
/// | `s2s.bind_address` | "0.0.0.0" | the address the s2s listener binds to |
/// | `s2s.port` | 5269 | the s2s listener |
/// | `s2s.routes` | "" | `domain=host:port` pairs, comma-separated, used instead of DNS SRV for those domains |
/// | `s2s.trust_file` | "" | PEM anchors (a city root) a peer's certificate must chain to for SASL EXTERNAL |
/// | `s2s.require_certificates` | false | refuse dialback: only peers with such a certificate |
/// | `s2s.cert_file`, `s2s.key_file` | "" | the certificate shown to peers (default: the XMPP server's); it must name the domain |
/// | `s2s.dialback_secret_file` | "" | a file whose bytes are the dialback secret (default: random per start) |
/// | `s2s.max_queued` | 1000 | stanzas waiting for a link to one domain; more bounce |
/// | `s2s.max_inbound` | 1000 | inbound s2s streams at once |
/// | `s2s.stanzas_per_second` | 5000 | stanzas one peer may send per second (bursts of 4 ×) |
/// | `s2s.idle_s` | 600 | a link idle this long is closed |
/// | `s2s.connect_timeout_s` | 15 | connecting and authenticating to a peer |
extension AgoraConfiguration {
    static let s2sKeys: [Key] = [
        Key(name: "s2s.enabled") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.enabled = try boolean(v, "s2s.enabled", s) },
        Key(name: "s2s.bind_address") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.bindAddress = try string(v, "s2s.bind_address", s, nonEmpty: true) },
        Key(name: "s2s.port") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.port = try integer(v, "s2s.port", s, min: 0, max: 65535) },
        Key(name: "s2s.routes") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.routes = try routes(try string(v, "s2s.routes", s, nonEmpty: false), source: s) },
        Key(name: "s2s.trust_file") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.trustFile = try string(v, "s2s.trust_file", s, nonEmpty: false) },
        Key(name: "s2s.require_certificates") { c, v, s throws(ConfigurationError) in
            c.xmpp.s2s.requireCertificates = try boolean(v, "s2s.require_certificates", s)
        },
        Key(name: "s2s.cert_file") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.certificateChainFile = try string(v, "s2s.cert_file", s, nonEmpty: false) },
        Key(name: "s2s.key_file") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.keyFile = try string(v, "s2s.key_file", s, nonEmpty: false) },
        Key(name: "s2s.dialback_secret_file") { c, v, s throws(ConfigurationError) in
            c.s2sDialbackSecretFile = try string(v, "s2s.dialback_secret_file", s, nonEmpty: false)
        },
        Key(name: "s2s.max_queued") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.maxQueuedPerDomain = try integer(v, "s2s.max_queued", s, min: 1, max: 1_000_000) },
        Key(name: "s2s.max_inbound") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.maxInboundStreams = try integer(v, "s2s.max_inbound", s, min: 1, max: 1_000_000) },
        Key(name: "s2s.stanzas_per_second") { c, v, s throws(ConfigurationError) in
            c.xmpp.s2s.stanzasPerSecondPerPeer = try integer(v, "s2s.stanzas_per_second", s, min: 1, max: 10_000_000)
        },
        Key(name: "s2s.idle_s") { c, v, s throws(ConfigurationError) in c.xmpp.s2s.idleSeconds = try integer(v, "s2s.idle_s", s, min: 1, max: 86_400) },
        Key(name: "s2s.connect_timeout_s") { c, v, s throws(ConfigurationError) in
            c.xmpp.s2s.connectTimeoutSeconds = try integer(v, "s2s.connect_timeout_s", s, min: 1, max: 600)
        },
    ]

    /// `gw2.example=10.0.0.2:5269, city.example=hub.city.example:5269`.
    static func routes(_ text: String, source: String) throws(ConfigurationError) -> [String: S2SConfiguration.Route] {
        var routes: [String: S2SConfiguration.Route] = [:]
        for entry in text.split(separator: ",") {
            let pair = entry.split(separator: "=", maxSplits: 1).map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
            let hostPort = pair.count == 2 ? pair[1].split(separator: ":") : []
            guard pair.count == 2, (try? BareJID.validateDomain(pair[0].lowercased(), original: pair[0])) != nil,
                  hostPort.count == 2, !hostPort[0].isEmpty, let port = Int(hostPort[1]), (1...65535).contains(port)
            else {
                throw .key("s2s.routes", source: source, "expected domain=host:port pairs separated by commas, not \"\(entry.prefix(60))\"")
            }
            routes[pair[0].lowercased()] = .init(host: String(hostPort[0]), port: port)
        }
        return routes
    }
}
