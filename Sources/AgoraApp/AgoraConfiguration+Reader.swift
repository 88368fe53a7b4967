internal import AgoraLedger
internal import AgoraStore
internal import Logging
#if canImport(Glibc)
internal import Glibc
#endif

/// Reads `AgoraConfiguration` from the config file and the environment.
///
/// Precedence: command-line flag > environment `AGORA_<SECTION>_<KEY>` > config file >
/// default. Every key, with its default (the `[trust]` keys are in
/// `AgoraConfiguration+TrustKeys.swift`, the `[s2s]` keys in `AgoraConfiguration+S2SKeys.swift`, the `[registry]` keys in `AgoraConfiguration+RegistryKeys.swift`, the `[live]` keys in `AgoraConfiguration+LiveKeys.swift`, the
/// `[witness]` keys in `AgoraConfiguration+WitnessKeys.swift`; the typed values are read by
/// `AgoraConfiguration+Values.swift`):
///
/// | key | default | meaning |
/// |---|---|---|
/// | `store.state_dir` | `/var/lib/agora` | state directory (also `AGORA_STATE_DIR`, `--state-dir`) |
/// | `store.map_size` | 1073741824 | initial LMDB map size, bytes |
/// | `store.max_map_size` | 17179869184 | map growth ceiling, bytes |
/// | `store.writer_max_batch` | 512 | most write requests per group commit |
/// | `store.writer_window_us` | 1000 | longest a batch waits to fill, µs |
/// | `store.writer_quiet_gap_us` | 100 | a batch closes when no request came for this long, µs |
/// | `ledger.checkpoint_interval_ms` | 1000 | least time between signed checkpoints |
/// | `keys.kek_file` | "" | key-encryption key file (default: systemd credential, else `<state_dir>/agora.kek`) |
/// | `log.level` | "info" | trace, debug, info, notice, warning, error, critical |
/// | `ca.sensor_days` | 365 | validity of sensor certificates |
/// | `ca.user_days` | 90 | validity of user certificates |
/// | `ca.server_days` | 365 | validity of the gateway's own TLS certificates |
/// | `ca.crl_days` | 7 | how long each CRL is valid (nextUpdate) |
/// | `ca.user_certificate_exists` | "replace" | a CSR from an account holding a good certificate: `replace` (revoke the old, superseded) or `refuse` |
/// | `quotas.certificates_per_day` | 3 | certificates one account may have signed per day over XMPP (0: unlimited) |
/// | `quotas.ledger_writes_per_minute` | 60 | purchases, transfers, price changes and ratings per account per minute (0: unlimited) |
/// | `quotas.ledger_writes_burst` | 30 | of which at once |
/// | `readings.retention_days` | 365 | readings older than this are pruned (0: keep forever) |
/// | `readings.max_bytes` | 8589934592 | the readings table is pruned, oldest first, above this size (0: no limit) |
/// | `mqtt.host`, `mqtt.port`, `mqtt.prefix` | as recorded by `broker-config` | where `agora serve` connects |
/// | `mqtt.ca_file`, `mqtt.cert_file`, `mqtt.key_file` | as recorded by `broker-config` | its TLS files |
/// | `xmpp.enabled` | true | run the XMPP server in `agora serve` |
/// | `xmpp.bind_address` | "0.0.0.0" | the only address the XMPP listeners bind to |
/// | `xmpp.c2s_port` | 5222 | STARTTLS listener (0: off) |
/// | `xmpp.tls_port` | 5223 | direct TLS listener, XEP-0368 (0: off) |
/// | `xmpp.tls_required` | true | STARTTLS before SASL; false only for loopback benchmarks |
/// | `xmpp.plain_enabled` | false | offer SASL PLAIN (only ever on TLS) |
/// | `xmpp.max_stanza_bytes` | 262144 | larger stanzas end the stream with policy-violation |
/// | `xmpp.max_depth` | 32 | deeper nesting ends the stream with policy-violation |
/// | `xmpp.max_sessions` | 10000 | bound sessions across the server |
/// | `xmpp.max_resources` | 64 | bound resources per account |
/// | `xmpp.connection_rate` | 20 | new connections per second per source address (0: unlimited) |
/// | `xmpp.archive_days` | 30 | days chats stay in their accounts' and rooms' archives (XEP-0313; 0: none kept) |
/// | `xmpp.archive_max_messages` | 100000 | messages one archive keeps at most (the oldest go) |
/// | `xmpp.archive_max_bytes` | 33554432 | bytes one archive keeps at most (the oldest go); messages over 64 KiB are not archived |
/// | `xmpp.offline_limit` | 100 | messages kept per offline account |
/// | `xmpp.offline_max_bytes` | 2097152 | bytes kept per offline account, all senders together (0: no bound) |
/// | `xmpp.offline_max_bytes_per_sender` | 524288 | bytes one sender may have waiting for one account (0: no bound) |
/// | `xmpp.ping_interval_s` | 300 | ping silent clients, drop them after as long again (0: never) |
/// | `xmpp.negotiation_timeout_s` | 60 | time to authenticate and bind |
/// | `xmpp.resume_timeout_s` | 300 | XEP-0198 resumption window (0: no resumption) |
/// | `xmpp.threads` | 0 | event-loop threads (0: one per core) |
/// | `xmpp.auth_free_failures` | 3 | SASL failures per account before back-off (per address: 3 ×) |
/// | `xmpp.auth_max_backoff_s` | 60 | longest SASL back-off |
/// | `http.bind_address` | "127.0.0.1" | the HTTP listener's address (beyond loopback: TLS, and a token for `/metrics`) |
/// | `http.port` | 8080 | the HTTP listener: metrics, health, dashboard (0: off) |
/// | `http.cert_file`, `http.key_file` | "" | its certificate and key (default beyond loopback: the XMPP server's) |
/// | `http.token_file` | "" | bearer token for `/metrics` and `/status.json` from beyond loopback (default `<state_dir>/http/metrics.token`, made 0600) |
/// | `http.allowed_hosts` | "" | host names (comma-separated) the listener answers for besides the domain, `localhost` and IP addresses |
/// | `http.max_connections` | 64 | open HTTP connections (the last 8 for loopback peers) |
/// | `http.max_connections_per_address` | 16 | open HTTP connections from one address |
/// | `http.request_timeout_s` | 10 | a complete request must arrive within this time (slow clients, idle keep-alive) |
/// | `xmpp.cert_file`, `xmpp.key_file` | "" | server certificate chain and key (default: issued by the Agora CA into `<state_dir>/xmpp/`) |
extension AgoraConfiguration {
    struct Key: Sendable {
        let name: String
        let apply: @Sendable (inout AgoraConfiguration, ConfigFile.Value, String) throws(ConfigurationError) -> Void
    }

    static let keys: [Key] = generalKeys + witnessKeys + trustKeys + liveKeys + mucKeys + s2sKeys + registryKeys

    private static let generalKeys: [Key] = [
        Key(name: "store.state_dir") { c, v, s throws(ConfigurationError) in c.stateDirectory = try string(v, "store.state_dir", s, nonEmpty: true) },
        Key(name: "store.map_size") { c, v, s throws(ConfigurationError) in
            c.store.mapSize = try integer(v, "store.map_size", s, min: 1 << 20)
            c.store.maxMapSize = max(c.store.maxMapSize, c.store.mapSize)
        },
        Key(name: "store.max_map_size") { c, v, s throws(ConfigurationError) in c.store.maxMapSize = try integer(v, "store.max_map_size", s, min: 1 << 20) },
        Key(name: "store.writer_max_batch") { c, v, s throws(ConfigurationError) in c.writer.maxBatch = try integer(v, "store.writer_max_batch", s, min: 1, max: 65_536) },
        Key(name: "store.writer_window_us") { c, v, s throws(ConfigurationError) in c.writer.window = .microseconds(try integer(v, "store.writer_window_us", s, min: 0, max: 1_000_000)) },
        Key(name: "store.writer_quiet_gap_us") { c, v, s throws(ConfigurationError) in c.writer.quietGap = .microseconds(try integer(v, "store.writer_quiet_gap_us", s, min: 0, max: 1_000_000)) },
        Key(name: "ledger.checkpoint_interval_ms") { c, v, s throws(ConfigurationError) in
            c.checkpointInterval = .milliseconds(try integer(v, "ledger.checkpoint_interval_ms", s, min: 0, max: 3_600_000))
        },
        Key(name: "keys.kek_file") { c, v, s throws(ConfigurationError) in
            let path = try string(v, "keys.kek_file", s, nonEmpty: false)
            c.kekFile = path.isEmpty ? nil : path
        },
        Key(name: "ca.sensor_days") { c, v, s throws(ConfigurationError) in c.certificateValidity.sensorDays = try integer(v, "ca.sensor_days", s, min: 1, max: 3650) },
        Key(name: "ca.user_days") { c, v, s throws(ConfigurationError) in c.certificateValidity.userDays = try integer(v, "ca.user_days", s, min: 1, max: 3650) },
        Key(name: "ca.server_days") { c, v, s throws(ConfigurationError) in c.certificateValidity.serverDays = try integer(v, "ca.server_days", s, min: 1, max: 3650) },
        Key(name: "ca.crl_days") { c, v, s throws(ConfigurationError) in c.crlDays = try integer(v, "ca.crl_days", s, min: 1, max: 365) },
        Key(name: "ca.user_certificate_exists") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "ca.user_certificate_exists", s, nonEmpty: true)
            guard let policy = ExistingCertificatePolicy(rawValue: text) else {
                throw ConfigurationError.key("ca.user_certificate_exists", source: s, "expected \"replace\" or \"refuse\", not \"\(text.prefix(32))\"")
            }
            c.userCertificateExists = policy
        },
        Key(name: "quotas.certificates_per_day") { c, v, s throws(ConfigurationError) in
            c.quotas.certificatesPerDay = try integer(v, "quotas.certificates_per_day", s, min: 0, max: 100_000)
        },
        Key(name: "quotas.ledger_writes_per_minute") { c, v, s throws(ConfigurationError) in
            c.quotas.ledgerWritesPerMinute = try integer(v, "quotas.ledger_writes_per_minute", s, min: 0, max: 1_000_000)
        },
        Key(name: "quotas.ledger_writes_burst") { c, v, s throws(ConfigurationError) in
            c.quotas.ledgerWritesBurst = try integer(v, "quotas.ledger_writes_burst", s, min: 1, max: 1_000_000)
        },
        Key(name: "readings.retention_days") { c, v, s throws(ConfigurationError) in c.readingsRetentionDays = try integer(v, "readings.retention_days", s, min: 0, max: 36_500) },
        Key(name: "readings.max_bytes") { c, v, s throws(ConfigurationError) in c.readingsMaxBytes = try integer(v, "readings.max_bytes", s, min: 0) },
        Key(name: "mqtt.host") { c, v, s throws(ConfigurationError) in c.mqtt.host = try string(v, "mqtt.host", s, nonEmpty: true) },
        Key(name: "mqtt.port") { c, v, s throws(ConfigurationError) in c.mqtt.port = try integer(v, "mqtt.port", s, min: 1, max: 65_535) },
        Key(name: "mqtt.prefix") { c, v, s throws(ConfigurationError) in c.mqtt.prefix = try string(v, "mqtt.prefix", s, nonEmpty: true) },
        Key(name: "mqtt.ca_file") { c, v, s throws(ConfigurationError) in c.mqtt.caFile = try string(v, "mqtt.ca_file", s, nonEmpty: true) },
        Key(name: "mqtt.cert_file") { c, v, s throws(ConfigurationError) in c.mqtt.certificateFile = try string(v, "mqtt.cert_file", s, nonEmpty: true) },
        Key(name: "mqtt.key_file") { c, v, s throws(ConfigurationError) in c.mqtt.keyFile = try string(v, "mqtt.key_file", s, nonEmpty: true) },
        Key(name: "xmpp.enabled") { c, v, s throws(ConfigurationError) in c.xmppEnabled = try boolean(v, "xmpp.enabled", s) },
        Key(name: "xmpp.bind_address") { c, v, s throws(ConfigurationError) in c.xmpp.bindAddress = try string(v, "xmpp.bind_address", s, nonEmpty: true) },
        Key(name: "xmpp.c2s_port") { c, v, s throws(ConfigurationError) in c.xmpp.c2sPort = try integer(v, "xmpp.c2s_port", s, min: 0, max: 65_535) },
        Key(name: "xmpp.tls_port") { c, v, s throws(ConfigurationError) in c.xmpp.tlsPort = try integer(v, "xmpp.tls_port", s, min: 0, max: 65_535) },
        Key(name: "xmpp.tls_required") { c, v, s throws(ConfigurationError) in c.xmpp.tlsRequired = try boolean(v, "xmpp.tls_required", s) },
        Key(name: "xmpp.plain_enabled") { c, v, s throws(ConfigurationError) in c.xmpp.plainEnabled = try boolean(v, "xmpp.plain_enabled", s) },
        Key(name: "xmpp.max_stanza_bytes") { c, v, s throws(ConfigurationError) in
            c.xmpp.limits.maxStanzaBytes = try integer(v, "xmpp.max_stanza_bytes", s, min: 4096, max: 16 << 20)
        },
        Key(name: "xmpp.max_depth") { c, v, s throws(ConfigurationError) in c.xmpp.limits.maxDepth = try integer(v, "xmpp.max_depth", s, min: 4, max: 1000) },
        Key(name: "xmpp.max_sessions") { c, v, s throws(ConfigurationError) in c.xmpp.maxSessions = try integer(v, "xmpp.max_sessions", s, min: 1, max: 1_000_000) },
        Key(name: "xmpp.max_resources") { c, v, s throws(ConfigurationError) in c.xmpp.maxResourcesPerAccount = try integer(v, "xmpp.max_resources", s, min: 1, max: 10_000) },
        Key(name: "xmpp.connection_rate") { c, v, s throws(ConfigurationError) in c.xmpp.connectionRatePerIP = try integer(v, "xmpp.connection_rate", s, min: 0, max: 1_000_000) },
        Key(name: "xmpp.archive_days") { c, v, s throws(ConfigurationError) in c.xmpp.archiveDays = try integer(v, "xmpp.archive_days", s, min: 0, max: 36_500) },
        Key(name: "xmpp.archive_max_messages") { c, v, s throws(ConfigurationError) in
            c.xmpp.archiveMaxMessages = try integer(v, "xmpp.archive_max_messages", s, min: 0, max: 100_000_000)
        },
        Key(name: "xmpp.archive_max_bytes") { c, v, s throws(ConfigurationError) in
            c.xmpp.archiveMaxBytes = try integer(v, "xmpp.archive_max_bytes", s, min: 0, max: 1 << 40)
        },
        Key(name: "xmpp.offline_limit") { c, v, s throws(ConfigurationError) in c.xmpp.offlineLimit = try integer(v, "xmpp.offline_limit", s, min: 0, max: 100_000) },
        Key(name: "xmpp.offline_max_bytes") { c, v, s throws(ConfigurationError) in
            c.xmpp.offlineMaxBytes = try integer(v, "xmpp.offline_max_bytes", s, min: 0, max: 1 << 30)
        },
        Key(name: "xmpp.offline_max_bytes_per_sender") { c, v, s throws(ConfigurationError) in
            c.xmpp.offlineMaxBytesPerSender = try integer(v, "xmpp.offline_max_bytes_per_sender", s, min: 0, max: 1 << 30)
        },
        Key(name: "xmpp.ping_interval_s") { c, v, s throws(ConfigurationError) in c.xmpp.pingIntervalSeconds = try integer(v, "xmpp.ping_interval_s", s, min: 0, max: 86_400) },
        Key(name: "xmpp.negotiation_timeout_s") { c, v, s throws(ConfigurationError) in
            c.xmpp.negotiationTimeoutSeconds = try integer(v, "xmpp.negotiation_timeout_s", s, min: 1, max: 3600)
        },
        Key(name: "xmpp.resume_timeout_s") { c, v, s throws(ConfigurationError) in c.xmpp.resumeTimeoutSeconds = try integer(v, "xmpp.resume_timeout_s", s, min: 0, max: 86_400) },
        Key(name: "xmpp.threads") { c, v, s throws(ConfigurationError) in c.xmpp.threads = try integer(v, "xmpp.threads", s, min: 0, max: 256) },
        Key(name: "xmpp.auth_free_failures") { c, v, s throws(ConfigurationError) in
            let failures = try integer(v, "xmpp.auth_free_failures", s, min: 1, max: 1000)
            c.xmpp.authFreeFailuresPerAccount = failures
            c.xmpp.authFreeFailuresPerAddress = failures * 3
        },
        Key(name: "xmpp.auth_max_backoff_s") { c, v, s throws(ConfigurationError) in c.xmpp.authMaxBackoffSeconds = try integer(v, "xmpp.auth_max_backoff_s", s, min: 1, max: 86_400) },
        Key(name: "xmpp.cert_file") { c, v, s throws(ConfigurationError) in c.xmpp.certificateChainFile = try string(v, "xmpp.cert_file", s, nonEmpty: false) },
        Key(name: "xmpp.key_file") { c, v, s throws(ConfigurationError) in c.xmpp.keyFile = try string(v, "xmpp.key_file", s, nonEmpty: false) },
        Key(name: "http.bind_address") { c, v, s throws(ConfigurationError) in c.http.bindAddress = try string(v, "http.bind_address", s, nonEmpty: true) },
        Key(name: "http.port") { c, v, s throws(ConfigurationError) in c.http.port = try integer(v, "http.port", s, min: 0, max: 65_535) },
        Key(name: "http.cert_file") { c, v, s throws(ConfigurationError) in c.http.certificateChainFile = try string(v, "http.cert_file", s, nonEmpty: false) },
        Key(name: "http.key_file") { c, v, s throws(ConfigurationError) in c.http.keyFile = try string(v, "http.key_file", s, nonEmpty: false) },
        Key(name: "http.token_file") { c, v, s throws(ConfigurationError) in
            let path = try string(v, "http.token_file", s, nonEmpty: false)
            c.httpTokenFile = path.isEmpty ? nil : path
        },
        Key(name: "http.allowed_hosts") { c, v, s throws(ConfigurationError) in
            c.httpAllowedHosts = try string(v, "http.allowed_hosts", s, nonEmpty: false).split(separator: ",")
                .map { String($0.filter { !$0.isWhitespace }).lowercased() }.filter { !$0.isEmpty }
        },
        Key(name: "http.max_connections_per_address") { c, v, s throws(ConfigurationError) in
            c.http.limits.maxConnectionsPerAddress = try integer(v, "http.max_connections_per_address", s, min: 1, max: 100_000)
        },
        Key(name: "http.max_connections") { c, v, s throws(ConfigurationError) in c.http.limits.maxConnections = try integer(v, "http.max_connections", s, min: 9, max: 100_000) },
        Key(name: "http.request_timeout_s") { c, v, s throws(ConfigurationError) in
            c.http.limits.requestTimeout = .seconds(try integer(v, "http.request_timeout_s", s, min: 1, max: 3600))
        },
        Key(name: "log.level") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "log.level", s, nonEmpty: true)
            guard let level = Logger.Level(rawValue: text) else {
                throw .key("log.level", source: s, "expected trace, debug, info, notice, warning, error or critical")
            }
            c.logLevel = level
        },
    ]

    /// Loads the configuration: defaults, then `file` (if any), then the environment.
    public static func load(file: String?, environment: [String: String]) throws(ConfigurationError) -> AgoraConfiguration {
        var configuration = AgoraConfiguration()
        if let file {
            let parsed = try ConfigFile(parsing: try readText(file), name: file)
            for (name, value) in parsed.values.sorted(by: { $0.key < $1.key }) {
                guard let key = keys.first(where: { $0.name == name }) else { throw .unknownKey(name, source: file) }
                try key.apply(&configuration, value, file)
            }
        }
        try refuseUnknownVariables(in: environment)
        for key in keys {
            let variable = environmentName(of: key.name)
            guard let text = environment[variable] else { continue }
            let value: ConfigFile.Value = Int64(text.replacingUnderscores).map { .integer($0) } ?? .string(text)
            try key.apply(&configuration, value, "environment \(variable)")
        }
        if let directory = environment["AGORA_STATE_DIR"], !directory.isEmpty {
            configuration.stateDirectory = directory
        }
        guard configuration.store.maxMapSize >= configuration.store.mapSize else {
            throw .key("store.max_map_size", source: file ?? "environment",
                       "must not be smaller than store.map_size (\(configuration.store.mapSize))")
        }
        return configuration
    }

    private static func environmentName(of key: String) -> String {
        "AGORA_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// A variable that looks like a configuration key (`AGORA_<SECTION>_…` for a section this
    /// file knows) but names none is refused, as an unknown key in the file is: the trial that
    /// set `AGORA_XMPP_PORT` instead of `AGORA_XMPP_C2S_PORT` got the default port and no word
    /// about it. Other `AGORA_*` names (the scripts' own, like `AGORA_BIN`) are left alone,
    /// since they do not claim a section.
    private static func refuseUnknownVariables(in environment: [String: String]) throws(ConfigurationError) {
        let known = Set(keys.map { environmentName(of: $0.name) })
        for variable in environment.keys.sorted() where !known.contains(variable) && variable != "AGORA_STATE_DIR" {
            let claimed = keys.filter { variable.hasPrefix(environmentName(of: String($0.name.prefix(while: { $0 != "." }))) + "_") }
            guard !claimed.isEmpty else { continue }
            throw .unknownVariable(variable, known: claimed.map { environmentName(of: $0.name) })
        }
    }


    static func readText(_ path: String) throws(ConfigurationError) -> String {
        guard let file = fopen(path, "r") else { throw .unreadable(path, String(cString: strerror(errno))) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            guard bytes.count <= ConfigFile.maxSize else { throw .unreadable(path, "larger than \(ConfigFile.maxSize) bytes") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
