internal import AgoraCore
public import AgoraStore
public import AgoraXMPP
internal import NIOConcurrencyHelpers
internal import NIOCore

/// A city-wide XEP-0347 Thing Registry kept by one gateway (`[registry] enabled`): other
/// gateways register their sensors here over federation, and this gateway's `search`
/// answers with them beside its own, each thing naming the JID that serves its data.
///
/// Only a peer server registers, in its own name (the request comes from its domain, which
/// federation authenticated), and only things it serves: each is stored under that domain,
/// and the search result's `jid` is that domain — a gateway cannot register things for
/// another. XEP-0347 §3.9's concentrator form: `<register nodeId='…'>` with the node's meta
/// tags (`str`, `num`); `<unregister nodeId='…'/>` removes it. Bounded: things per domain,
/// things in all, tags per thing, and each tag's size; a refusal changes nothing.
public struct ThingRegistry: Sendable {
    public struct Limits: Sendable {
        public var maxThings = 100_000
        public var maxThingsPerDomain = 10_000
        public var maxTags = 32
        public var maxTagBytes = 256
        public init() {}
    }

    /// A registered thing: who serves it, its meta tags as the filters read them, and the
    /// `<thing/>` a search answers with.
    public struct Thing: Sendable {
        public let jid: String
        public let nodeId: String
        let tags: [String: DiscoveryIQ.Tag]
        public let element: XMLElement
    }

    /// Who may register: domains, or `*.suffix` for every domain under one (`registry.members`).
    /// Dialback proves only that a peer controls its DNS, so without this anyone on the
    /// network could fill the registry.
    public struct Members: Sendable {
        let exact: Set<String>
        let suffixes: [String]
        public init(_ entries: [String]) {
            exact = Set(entries.filter { !$0.hasPrefix("*.") })
            suffixes = entries.filter { $0.hasPrefix("*.") }.map { String($0.dropFirst(1)) }
        }
        func admits(_ domain: String) -> Bool { exact.contains(domain) || suffixes.contains { domain.hasSuffix($0) } }
    }

    /// The trust model's tags: each gateway scores its own sensors, so a peer may not claim them.
    static let reservedTags: Set<String> = ["TRUST", "REPUTATION", "DEPENDABILITY", "RATINGS", "RELIABILITY"]
    /// Registrations from one peer being written at once; more are refused, not queued.
    static let maxInFlightPerPeer = 8

    static let namespace = "urn:xmpp:iot:discovery"
    let store: Store
    let limits: Limits
    let members: Members
    /// The registered things, parsed once per change of the table: every search reads them.
    private let cache = NIOLockedValueBox<[Thing]?>(nil)
    private let inFlight = NIOLockedValueBox([String: Int]())

    public init(store: Store, limits: Limits = Limits(), members: Members) {
        self.store = store
        self.limits = limits
        self.members = members
    }

    /// The handler federation calls for requests a peer server makes in its own name.
    public var serverRequests: [String: ServerRequestHandler] {
        [Self.namespace: { payload, peer in try await self.handle(payload, from: peer) }]
    }

    func handle(_ payload: XMLElement, from peer: String) async throws -> XMLElement? {
        guard members.admits(peer) else { throw StanzaError(.forbidden, "\(peer) is not a member of this registry") }
        let admitted = inFlight.withLockedValue { counts in
            guard counts[peer, default: 0] < Self.maxInFlightPerPeer else { return false }
            counts[peer, default: 0] += 1
            return true
        }
        guard admitted else { throw StanzaError(.resourceConstraint, "wait for the answers to your earlier registrations") }
        defer {
            inFlight.withLockedValue { counts in
                counts[peer, default: 1] -= 1
                if counts[peer] == 0 { counts[peer] = nil }
            }
            cache.withLockedValue { $0 = nil }
        }
        switch payload.name {
        case "register": try await register(payload, from: peer)
        case "unregister", "remove": try await unregister(payload, from: peer)
        default: throw StanzaError(.featureNotImplemented, "a registry takes register and unregister from servers")
        }
        return nil
    }

    private static func key(_ jid: String, _ nodeId: String) -> [UInt8] { Array(jid.utf8) + [0] + Array(nodeId.utf8) }

    private func nodeId(of payload: XMLElement) throws(StanzaError) -> String {
        guard let nodeId = payload[attribute: "nodeId"], !nodeId.isEmpty, nodeId.utf8.count <= 128, !nodeId.utf8.contains(0) else {
            throw StanzaError(.badRequest, "a gateway registers each sensor as a node: nodeId of 1…128 bytes")
        }
        return nodeId
    }

    func register(_ payload: XMLElement, from peer: String) async throws {
        let nodeId = try nodeId(of: payload)
        var thing = XMLElement("thing", namespace: Self.namespace, attributes: [.init("jid", peer), .init("nodeId", nodeId)])
        var names = Set<String>()
        for tag in payload.elements {
            guard tag.name == "str" || tag.name == "num", let name = tag[attribute: "name"], let value = tag[attribute: "value"] else {
                throw StanzaError(.badRequest, "meta tags are <str/> or <num/> with a name and a value")
            }
            guard name.utf8.count <= 64, value.utf8.count <= limits.maxTagBytes, names.insert(name).inserted else {
                throw StanzaError(.notAcceptable, "tag names of at most 64 bytes, values of at most \(limits.maxTagBytes), each name once")
            }
            guard !Self.reservedTags.contains(name) else {
                throw StanzaError(.notAcceptable, "\(name) is the trust model's, computed by each gateway for its own sensors")
            }
            if tag.name == "num", Double(value)?.isFinite != true { throw StanzaError(.badRequest, "<num name='\(name.prefix(64))'/> is not a number") }
            // The registry decides who serves a thing: a peer's OWNER tag is only a claim.
            thing.append(XMLElement(tag.name, namespace: Self.namespace, attributes: [.init("name", name), .init("value", value)]))
        }
        guard names.count <= limits.maxTags else { throw StanzaError(.notAcceptable, "at most \(limits.maxTags) meta tags per thing") }
        let bytes = Array(buffer: XMLWriter.bytes(thing))  // with its xmlns: read back under jabber:client
        let key = Self.key(peer, nodeId)
        let table = store.tables.registryThings
        let limits = self.limits
        try await store.write { txn in
            if try !txn.contains(table, key) {
                var ofPeer = 0
                try txn.scan(table, prefix: Array(peer.utf8) + [0]) { _, _ in ofPeer += 1; return ofPeer < limits.maxThingsPerDomain }
                guard ofPeer < limits.maxThingsPerDomain else {
                    throw StanzaError(.resourceConstraint, "a gateway registers at most \(limits.maxThingsPerDomain) things here")
                }
                guard try txn.count(table) < limits.maxThings else { throw StanzaError(.resourceConstraint, "the registry is full") }
            }
            try txn.put(table, key, bytes)
        }
    }

    func unregister(_ payload: XMLElement, from peer: String) async throws {
        let key = Self.key(peer, try nodeId(of: payload))
        let table = store.tables.registryThings
        _ = try await store.write { txn in try txn.delete(table, key) }
    }

    /// Every registered thing, in (domain, node) order; parsed from the store once per change.
    public func things() throws -> [Thing] {
        if let cached = cache.withLockedValue({ $0 }) { return cached }
        let loaded = try load()
        cache.withLockedValue { $0 = loaded }
        return loaded
    }

    private func load() throws -> [Thing] {
        var reader = StoredStanzaReader()
        var found: [Thing] = []
        try store.read { txn in
            try txn.scan(store.tables.registryThings) { _, value in
                if let element = reader.stanzas(in: Array(value)).first, let jid = element[attribute: "jid"], let nodeId = element[attribute: "nodeId"] {
                    found.append(Thing(jid: jid, nodeId: nodeId, tags: DiscoveryIQ.tags(of: element), element: element))
                }
                return found.count < limits.maxThings
            }
        }
        return found
    }
}
