internal import AgoraCore
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOPosix
internal import NIOSSL
internal import X509

/// Server-to-server federation: the outbound links to peer domains, the dialback keys, the
/// trust anchors, and the hand-over of what peers send to the router.
///
/// **Outbound** (RFC 6120 §10.4.3): one link per peer domain, opened by the first stanza for
/// it and reused; a stanza waits (at most `maxQueuedPerDomain` per domain) while the link
/// resolves (static route, then `_xmpp-server._tcp` SRV, then the domain on 5269), connects
/// and authenticates. When that fails, what waited bounces to its senders
/// (`remote-server-not-found`, or `remote-server-timeout` when the peer was too slow, RFC
/// 6120 §8.3.3.15–16), and the domain bounces at once for a back-off that doubles up to
/// `maxBackoffSeconds`. An idle link closes; the next stanza opens a new one.
///
/// **Inbound**: `S2SInboundConnection` authenticates the peer and hands stanzas to
/// `received(_:on:)`, which routes them as the remote sender's (see `S2SInboundLink`).
///
/// `@unchecked Sendable`: the immutable configuration and contexts, the lock-protected
/// link table, and `router`, set once by `attach` before any listener or link exists.
final class S2SFederation: @unchecked Sendable {
    let configuration: S2SConfiguration
    let domain: String
    let dialback: DialbackKey
    let trust: CertificateStore?
    let serverTLS: NIOSSLContext
    let clientTLS: NIOSSLContext
    let hasCertificate: Bool
    let metrics: XMPPMetrics
    let logger: Logger
    /// The stream parser's limits: the same as c2s.
    let limits: XMLStreamParser.Limits
    /// Bytes written to a peer that does not read before stanzas to it bounce.
    static let maxBufferedBytes = 4 << 20

    private(set) var router: StanzaRouter!
    /// Set once by `start`, before any listener exists, so every read (a client's stanza,
    /// an inbound stream) happens after it.
    var group: (any EventLoopGroup)?
    /// Where DNS look-ups block: never on an event loop.
    let resolverPool = NIOThreadPool(numberOfThreads: 2)

    private enum Link {
        case connecting(queue: [XMLElement], failures: Int)
        /// The connection, touched on its loop only, and its identity, compared anywhere.
        case ready(NIOLoopBound<S2SOutboundConnection>, id: ObjectIdentifier)
        case backingOff(until: NIODeadline, failures: Int, condition: StanzaError.Condition)
    }

    /// One outbound link per pair of our domain (the server's or a component's) and a peer's:
    /// a stream authenticates one originating domain (RFC 6120 §13.7.1.2.1).
    struct LinkKey: Hashable, Sendable, CustomStringConvertible {
        var local: String
        var peer: String
        var description: String { "\(local)->\(peer)" }
    }

    private let links = NIOLockedValueBox([LinkKey: Link]())
    /// Domains with a link, a connection in progress or a back-off, at most.
    static let maxLinks = 10_000
    /// Each peer domain's stanza rate, shared by all its inbound streams: opening more streams
    /// buys a peer no more rate. Bounded; beyond, an idle domain's bucket is forgotten.
    private let peerRates = NIOLockedValueBox([String: TokenBucket]())
    static let maxRateEntries = 10_000

    /// Takes one stanza's worth of `domain`'s rate (`s2s.stanzas_per_second`, bursts of 4×).
    func admitStanza(from domain: String) -> Bool {
        let rate = configuration.stanzasPerSecondPerPeer
        return peerRates.withLockedValue { buckets in
            let now = ContinuousClock.Instant.now
            if buckets[domain] == nil, buckets.count >= Self.maxRateEntries, let any = buckets.keys.first { buckets[any] = nil }
            var bucket = buckets[domain] ?? TokenBucket(capacity: rate * 4, perSecond: Double(rate), now: now)
            let taken = bucket.take(now: now)
            buckets[domain] = bucket
            return taken
        }
    }

    /// Peers' refusals of what this server sent in its own name, logged within a budget.
    let refusalLog = LogBudget()
    /// Inbound streams at once, by remote address.
    private let inboundStreams = NIOLockedValueBox([String: Int]())
    /// Inbound streams one address may hold at once (before authenticating, a slot is all
    /// an anonymous connection costs; a peer server needs a few).
    static let maxInboundPerAddress = 16

    /// Admits an inbound stream from `address`, or says why not.
    func admitInbound(from address: String) -> String? {
        inboundStreams.withLockedValue { streams in
            if streams.values.reduce(0, +) >= configuration.maxInboundStreams { return "too_many_streams" }
            if streams[address, default: 0] >= Self.maxInboundPerAddress { return "too_many_from_address" }
            streams[address, default: 0] += 1
            return nil
        }
    }

    func releaseInbound(from address: String) {
        inboundStreams.withLockedValue { streams in
            streams[address, default: 1] -= 1
            if streams[address] == 0 { streams[address] = nil }
        }
    }

    init(configuration: S2SConfiguration, domain: String, certificateChainFile: String, keyFile: String, limits: XMLStreamParser.Limits,
         metrics: XMPPMetrics, logger: Logger) throws {
        self.configuration = configuration
        self.limits = limits
        self.domain = domain
        self.metrics = metrics
        self.logger = logger
        var secret = configuration.dialbackSecret
        if secret.isEmpty { secret = (0..<32).map { _ in UInt8.random(in: .min ... .max) } }
        dialback = DialbackKey(secret: secret)
        if configuration.trustFile.isEmpty {
            trust = nil
        } else {
            let anchors = try NIOSSLCertificate.fromPEMFile(configuration.trustFile).map { try Certificate(derEncoded: $0.toDERBytes()) }
            guard !anchors.isEmpty else { throw XMPPServerError.configuration("s2s.trust_file \(configuration.trustFile) holds no certificate") }
            trust = CertificateStore(anchors)
        }
        if configuration.requireCertificates, trust == nil {
            throw XMPPServerError.configuration("s2s.require_certificates needs s2s.trust_file (the anchors peers' certificates chain to)")
        }
        let chainFile = configuration.certificateChainFile.isEmpty ? certificateChainFile : configuration.certificateChainFile
        let key = configuration.keyFile.isEmpty ? keyFile : configuration.keyFile
        guard !chainFile.isEmpty, !key.isEmpty else {
            throw XMPPServerError.configuration("s2s needs a server certificate (TLS is required between servers)")
        }
        let chain = try NIOSSLCertificate.fromPEMFile(chainFile)
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        hasCertificate = true
        if let leaf = chain.first, let der = try? leaf.toDERBytes(), !PeerCertificateIdentity.names(der, domain: domain) {
            logger.warning("the s2s certificate does not name this domain; peers will not accept SASL EXTERNAL, only dialback",
                           metadata: ["domain": "\(domain)", "file": "\(chainFile)"])
        }
        var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        server.minimumTLSVersion = .tlsv12
        // Ask for the peer's certificate; `PeerCertificateCheck` decides what it proves.
        server.certificateVerification = .optionalVerification
        serverTLS = try NIOSSLContext(configuration: server)
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        client.certificateChain = chain.map { .certificate($0) }
        client.privateKey = .privateKey(privateKey)
        // Names are checked by PeerCertificateCheck (only when required: dialback otherwise).
        client.certificateVerification = .noHostnameVerification
        clientTLS = try NIOSSLContext(configuration: client)
    }

    /// Set once, by `XMPPServer`, before any s2s stream exists.
    func attach(_ router: StanzaRouter) {
        self.router = router
        servedDomains = Set([domain] + router.components.keys)
    }

    /// The event loops links run on; the listener and the first stanza need them.
    func start(group: any EventLoopGroup) {
        self.group = group
        resolverPool.start()
    }

    let stopped = NIOLockedValueBox(false)

    /// Closes every outbound link and stops the resolver threads (shutdown); nothing is sent
    /// afterwards.
    func stop() async {
        stopped.withLockedValue { $0 = true }
        closeAll()
        try? await resolverPool.shutdownGracefully()
    }

    /// Domains this server answers for: its own and its components' (set with the router).
    private(set) var servedDomains: Set<String> = []

    // MARK: Outbound

    /// Sends a stanza to its `to`, a JID in another domain; what cannot be delivered bounces.
    func send(_ stanza: XMLElement) {
        guard let to = stanza[attribute: "to"].flatMap({ try? JID(parsing: $0) }) else { return }
        let fromDomain = stanza[attribute: "from"].flatMap { try? JID(parsing: $0) }?.domain ?? domain
        let key = LinkKey(local: servedDomains.contains(fromDomain) ? fromDomain : domain, peer: to.domain)
        var converted = stanza
        converted.renamespace(from: Namespace.client, to: Namespace.server)
        let outgoing = converted
        enum Step { case write(NIOLoopBound<S2SOutboundConnection>), queued, connect, bounce(StanzaError.Condition) }
        let step: Step = links.withLockedValue { links in
            switch links[key] {
            case .ready(let connection, _):
                return .write(connection)
            case .connecting(var queue, let failures):
                guard queue.count < configuration.maxQueuedPerDomain else { return .bounce(.resourceConstraint) }
                queue.append(outgoing)
                links[key] = .connecting(queue: queue, failures: failures)
                return .queued
            case .backingOff(let until, let failures, let condition):
                if NIODeadline.now() < until { return .bounce(condition) }
                links[key] = .connecting(queue: [outgoing], failures: failures)
                return .connect
            case nil:
                // Every domain a local user names gets an entry: bounded, the expired
                // back-offs going first, then new domains bounce until some link ends.
                if links.count >= Self.maxLinks {
                    let now = NIODeadline.now()
                    links = links.filter { _, link in if case .backingOff(let until, _, _) = link { until > now } else { true } }
                    guard links.count < Self.maxLinks else { return .bounce(.resourceConstraint) }
                }
                links[key] = .connecting(queue: [outgoing], failures: 0)
                return .connect
            }
        }
        switch step {
        case .write(let connection):
            connection.eventLoop.execute { connection.value.send(outgoing) }
        case .queued:
            break
        case .connect:
            connect(key, purpose: .stanzas)   // bounces at once once stopped
        case .bounce(let condition):
            bounce([stanza], condition: condition)
        }
    }

    /// Tells the senders of `stanzas` they were not delivered (RFC 6120 §8.3.3.15–16):
    /// messages and IQ requests are answered; presence and errors are not.
    func bounce(_ stanzas: [XMLElement], condition: StanzaError.Condition) {
        guard let router else { return }
        for var stanza in stanzas {
            let type = stanza[attribute: "type"]
            guard stanza.name != "presence", type != "error", type != "result" else { continue }
            metrics.record { $0.s2sBounced[condition.rawValue, default: 0] += 1 }
            stanza.renamespace(from: Namespace.server, to: Namespace.client)
            let text = switch condition {
            case .remoteServerTimeout: "the server of that domain did not answer in time"
            case .resourceConstraint: "too much is waiting for the server of that domain"
            default: "the server of that domain cannot be reached"
            }
            router.deliverLocally(StanzaError(condition, text).reply(to: stanza))
        }
    }

    /// The link is authenticated: what waited goes out in order. False when no stanza waits
    /// for it (another link took its place, or the server is stopping): the caller closes it.
    func linkReady(_ connection: S2SOutboundConnection, link key: LinkKey, loop: any EventLoop) -> Bool {
        let queue = links.withLockedValue { links -> [XMLElement]? in
            guard case .connecting(let queue, _) = links[key] else { return nil }
            links[key] = .ready(NIOLoopBound(connection, eventLoop: loop), id: ObjectIdentifier(connection))
            return queue
        }
        guard let queue else { return false }
        for stanza in queue { connection.send(stanza) }
        return true
    }

    /// The link to `peer` ended: before it was ready, what waited bounces and the domain
    /// backs off; after, the next stanza opens a new link.
    func linkEnded(_ connection: S2SOutboundConnection?, link key: LinkKey, condition: StanzaError.Condition?) {
        let bounced = links.withLockedValue { links -> [XMLElement] in
            switch links[key] {
            case .ready(_, let id) where connection.map(ObjectIdentifier.init) == id:
                links[key] = nil
                return []
            case .connecting(let queue, let failures) where condition != nil:
                // The first failure only bounces what waited (a peer restarting is back in a
                // moment); from the second in a row, the domain bounces at once for 5 s,
                // then 10, 20, … up to the maximum.
                let backoff = failures == 0 ? 0 : min(configuration.maxBackoffSeconds, 5 << min(failures - 1, 10))
                links[key] = .backingOff(until: .now() + .seconds(Int64(backoff)), failures: failures + 1, condition: condition!)
                return queue
            default:
                return []
            }
        }
        if !bounced.isEmpty { bounce(bounced, condition: condition ?? .remoteServerNotFound) }
    }

    /// Verification streams at once, in all and per claimed domain: each inbound `db:result`
    /// makes this gateway look the claimed domain up and connect there, so an anonymous peer
    /// must not be able to make it do so without bound.
    static let maxVerifications = 64
    static let maxVerificationsPerDomain = 4
    private let verifications = NIOLockedValueBox([String: Int]())

    /// Asks the authoritative server of `peer` whether `key`, presented on our inbound stream
    /// `streamID` in its name, is its own (XEP-0220 §2.2), on a stream opened for that alone.
    /// Refused (false at once) beyond the bounds above, and for a domain that is an IP
    /// address: dialback authenticates names, and an address would let any peer make this
    /// gateway connect to a host of its choosing.
    func verifyDialback(peer: String, local: String, streamID: String, key: String, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        guard !Self.isAddressLiteral(peer) else {
            metrics.record { $0.s2sRefused["address_domain", default: 0] += 1 }
            return loop.makeSucceededFuture(false)
        }
        let admitted = verifications.withLockedValue { counts in
            guard counts.values.reduce(0, +) < Self.maxVerifications, counts[peer, default: 0] < Self.maxVerificationsPerDomain else { return false }
            counts[peer, default: 0] += 1
            return true
        }
        guard admitted else {
            metrics.record { $0.s2sRefused["verifications", default: 0] += 1 }
            return loop.makeSucceededFuture(false)
        }
        let promise = loop.makePromise(of: Bool.self)
        let verifications = self.verifications
        promise.futureResult.whenComplete { _ in
            verifications.withLockedValue { counts in
                counts[peer, default: 1] -= 1
                if counts[peer] == 0 { counts[peer] = nil }
            }
        }
        // One deadline for the whole verification, however many targets DNS names.
        loop.scheduleTask(in: .seconds(Int64(configuration.connectTimeoutSeconds))) { promise.succeed(false) }
        connect(LinkKey(local: local, peer: peer), purpose: .verify(streamID: streamID, key: key), verified: promise)
        return promise.futureResult
    }

    /// Whether a domain is written as an IPv4 address (all-numeric labels); IPv6 never
    /// passes the domain check.
    static func isAddressLiteral(_ domain: String) -> Bool {
        domain.split(separator: ".").allSatisfy { $0.allSatisfy(\.isNumber) }
    }

    private func closeAll() {
        let open = links.withLockedValue { links -> [NIOLoopBound<S2SOutboundConnection>] in
            defer { links = [:] }
            return links.values.compactMap { if case .ready(let connection, _) = $0 { connection } else { nil } }
        }
        for connection in open {
            connection.eventLoop.execute { connection.value.close(error: StreamError(.systemShutdown, "the gateway is shutting down")) }
        }
    }
}
