internal import AgoraCore

/// The `[registry]` keys (issue 19): a city-wide XEP-0347 Thing Registry over federation.
/// Read like every other key (`AgoraConfiguration+Reader.swift`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `registry.enabled` | false | keep a registry: other gateways register their sensors here, and searches answer with them |
/// | `registry.max_things` | 100000 | things the registry keeps |
/// | `registry.max_things_per_gateway` | 10000 | things one gateway may register |
/// | `registry.members` | "" | the gateways that may register: domains, or `*.city.example` for all under one (empty: none) |
/// | `registry.jid` | "" | register this gateway's sensors at that registry (a domain reached over `[s2s]`) |
/// | `registry.sync_s` | 60 | how often changes are sent (everything again every tenth time) |
extension AgoraConfiguration {
    /// `[registry]`: keeping a XEP-0347 registry, and registering at one.
    public struct Registry: Sendable, Equatable {
        public var enabled = false
        public var maxThings = 100_000
        public var maxThingsPerGateway = 10_000
        public var members: [String] = []
        public var jid = ""
        public var syncSeconds = 60
        public init() {}
    }

    static let registryKeys: [Key] = [
        Key(name: "registry.enabled") { c, v, s throws(ConfigurationError) in c.registry.enabled = try boolean(v, "registry.enabled", s) },
        Key(name: "registry.max_things") { c, v, s throws(ConfigurationError) in c.registry.maxThings = try integer(v, "registry.max_things", s, min: 1, max: 10_000_000) },
        Key(name: "registry.max_things_per_gateway") { c, v, s throws(ConfigurationError) in
            c.registry.maxThingsPerGateway = try integer(v, "registry.max_things_per_gateway", s, min: 1, max: 10_000_000)
        },
        Key(name: "registry.members") { c, v, s throws(ConfigurationError) in
            var members: [String] = []
            for entry in try string(v, "registry.members", s, nonEmpty: false).split(separator: ",") {
                let domain = String(entry.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()).lowercased()
                let name = domain.hasPrefix("*.") ? String(domain.dropFirst(2)) : domain
                guard (try? BareJID.validateDomain(name, original: name)) != nil else {
                    throw .key("registry.members", source: s, "expected domains or *.domain, separated by commas, not \"\(domain.prefix(60))\"")
                }
                members.append(domain)
            }
            c.registry.members = members
        },
        Key(name: "registry.jid") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "registry.jid", s, nonEmpty: false).lowercased()
            guard text.isEmpty || (try? BareJID.validateDomain(text, original: text)) != nil else {
                throw .key("registry.jid", source: s, "expected the registry's domain, such as registry.city.example")
            }
            c.registry.jid = text
        },
        Key(name: "registry.sync_s") { c, v, s throws(ConfigurationError) in c.registry.syncSeconds = try integer(v, "registry.sync_s", s, min: 1, max: 86_400) },
    ]
}
