/// The `[witness]` keys (issue 20): the logs this gateway cosigns, and the witnesses of its own
/// log. Read like every other key (`AgoraConfiguration+Reader.swift`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `witness.name` | "" | the name this gateway cosigns under as a witness (default `<domain>/witness`) |
/// | `witness.logs` | "" | the logs this gateway witnesses on `POST /add-checkpoint`, comma-separated `[ORIGIN] VERIFIER-KEY` (origin: default the key's name) |
/// | `witness.peers` | "" | the witnesses of this gateway's log, comma-separated `URL VERIFIER-KEY` |
/// | `witness.min_cosignatures` | 0 | cosignatures a checkpoint needs to count as witnessed (0: every peer) |
/// | `witness.ca_file` | "" | PEM certificates trusted for the peers' HTTPS (default: the gateway's own CA) |
/// | `witness.routes` | "" | `host=address:port` (comma-separated): where to reach a peer's host name |
/// | `witness.max_requests_per_second` | 1000 | `add-checkpoint` requests answered a second (burst: twice that); beyond, 429 |
/// | `witness.alert_after_s` | 300 | warn when the newest checkpoint has lacked its cosignatures this long |
extension AgoraConfiguration {
    static let witnessKeys: [Key] = [
        Key(name: "witness.name") { c, v, s throws(ConfigurationError) in c.witness.name = try string(v, "witness.name", s, nonEmpty: false) },
        Key(name: "witness.logs") { c, v, s throws(ConfigurationError) in
            c.witness.logs = try list(v, "witness.logs", s).map { item throws(ConfigurationError) in
                do { return try WitnessedLog(parsing: item) } catch { throw .key("witness.logs", source: s, "\(error)") }
            }
        },
        Key(name: "witness.peers") { c, v, s throws(ConfigurationError) in
            c.witness.peers = try list(v, "witness.peers", s).map { item throws(ConfigurationError) in
                do { return try WitnessPeer(parsing: item) } catch { throw .key("witness.peers", source: s, "\(error)") }
            }
            guard Set(c.witness.peers.map(\.verifier)).count == c.witness.peers.count else {
                throw .key("witness.peers", source: s, "a witness key is listed twice")
            }
        },
        Key(name: "witness.min_cosignatures") { c, v, s throws(ConfigurationError) in
            c.witness.minCosignatures = try integer(v, "witness.min_cosignatures", s, min: 0, max: 100)
        },
        Key(name: "witness.ca_file") { c, v, s throws(ConfigurationError) in c.witness.caFile = try string(v, "witness.ca_file", s, nonEmpty: false) },
        Key(name: "witness.routes") { c, v, s throws(ConfigurationError) in
            var routes: [String: String] = [:]
            for item in try list(v, "witness.routes", s) {
                let parts = item.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[1].contains(":") else { throw .key("witness.routes", source: s, "expected host=address:port, not \"\(item.prefix(80))\"") }
                routes[String(parts[0])] = String(parts[1])
            }
            c.witness.routes = routes
        },
        Key(name: "witness.max_requests_per_second") { c, v, s throws(ConfigurationError) in
            c.witness.maxRequestsPerSecond = try integer(v, "witness.max_requests_per_second", s, min: 1, max: 1_000_000)
        },
        Key(name: "witness.alert_after_s") { c, v, s throws(ConfigurationError) in
            c.witness.alertAfter = .seconds(try integer(v, "witness.alert_after_s", s, min: 1, max: 86_400 * 7))
        },
    ]
}
