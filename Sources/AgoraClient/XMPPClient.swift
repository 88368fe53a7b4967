public import AgoraCore
public import AgoraXMPP
internal import FoundationEssentials
internal import NIOCore
internal import NIOPosix
internal import NIOSSL
internal import Synchronization

/// One logged-in client connection to an XMPP server, for `agora client`: TCP, STARTTLS
/// (required; the certificate checked against the trust given and the domain), SASL
/// (SCRAM-SHA-256 with a password, or EXTERNAL with a client certificate), resource binding,
/// then one request at a time.
///
/// Hand-written on SwiftNIO and the server's own stream parser: no maintained Swift XMPP
/// client library exists, and the gateway already carries expat, SCRAM and NIOSSL. It is a
/// sequential client — the command asks, waits for the answer, asks again — so the stream's
/// events are read in order by the one task that drives it; what arrives meanwhile (a ping
/// from the server, a message) is answered or set aside on the way.
public final class XMPPClient {
    /// How to reach and log in to the server.
    public struct Options: Sendable {
        public var jid: BareJID
        /// SCRAM-SHA-256 with this password; nil: SASL EXTERNAL with `certificate`.
        public var password: String?
        /// PEM files of a certificate from the gateway's CA and its key, for SASL EXTERNAL.
        public var certificate: (certificateFile: String, keyFile: String)?
        /// PEM file of the CA the server's certificate must chain to; nil: the system's store.
        public var caFile: String?
        /// Where to connect when the domain's own address is not the way (`--server`).
        public var server: (host: String, port: Int)?
        /// The longest wait for any one answer.
        public var timeout: Duration = .seconds(30)
        /// The largest stanza accepted (a readings page with proofs is the biggest).
        public var maxStanzaBytes = 16 << 20
        /// The gateway whose services the requests go to, when it is not the account's own
        /// server (`--gateway`): a remote account logs in at its server and reaches the
        /// gateway over federation.
        public var gateway: String?

        public init(jid: BareJID, password: String? = nil, certificate: (certificateFile: String, keyFile: String)? = nil,
                    caFile: String? = nil, server: (host: String, port: Int)? = nil) {
            self.jid = jid; self.password = password; self.certificate = certificate; self.caFile = caFile; self.server = server
        }
    }

    public let options: Options
    /// The full JID the server bound.
    public private(set) var boundJID = ""
    /// The domain this client logs in to (the account's).
    public var domain: String { options.jid.domain }
    /// The domain whose services requests go to: `--gateway`, else the account's.
    public var serviceDomain: String { options.gateway ?? options.jid.domain }

    private let channel: any Channel
    private let decoder: NIOLoopBound<XMPPStreamDecoder>
    private var events: AsyncThrowingStream<XMLStreamEvent, any Error>.AsyncIterator
    private var nextID = 0
    /// Messages and presence that arrived while a request waited for its answer, for
    /// `receive` (live items keep coming while a client fetches a gap). Bounded: beyond
    /// `maxHeld` the oldest go, as a slow reader's would at the server.
    private var held: [XMLElement] = []
    static let maxHeld = 10_000

    private init(options: Options, channel: any Channel, decoder: NIOLoopBound<XMPPStreamDecoder>,
                 events: AsyncThrowingStream<XMLStreamEvent, any Error>) {
        self.options = options
        self.channel = channel
        self.decoder = decoder
        self.events = events.makeAsyncIterator()
    }

    /// Connects, secures, authenticates and binds a resource.
    public static func connect(_ options: Options) async throws(XMPPClientError) -> XMPPClient {
        let host = options.server?.host ?? options.jid.domain
        let port = options.server?.port ?? 5222
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: XMLStreamEvent.self)
        let limits = XMLStreamParser.Limits(maxStanzaBytes: options.maxStanzaBytes, maxDepth: 32)
        let channel: any Channel
        let decoder: NIOLoopBound<XMPPStreamDecoder>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(XMPPStreamDecoder(limits: limits))
                        try channel.pipeline.syncOperations.addHandler(ClientStreamHandler(continuation: continuation))
                    }
                }
                .connect(host: host, port: port).get()
            decoder = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: XMPPStreamDecoder.self), eventLoop: channel.eventLoop)
            }.get()
        } catch {
            throw .unreachable(host: host, port: port, reason: Self.connectionReason(error, host: host))
        }
        let client = XMPPClient(options: options, channel: channel, decoder: decoder, events: stream)
        do {
            try await client.negotiate()
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    /// Stops reading from the socket: the server's writes then back up as a reader that
    /// stalls would make them (what the live-readings benchmark's stalled subscribers do).
    public func pauseReading() {
        channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
    }

    /// Ends the stream politely and closes the connection.
    public func close() async {
        _ = try? await channel.writeAndFlush(ByteBuffer(string: "</stream:stream>")).get()
        _ = try? await channel.close().get()
    }

    // MARK: Requests

    /// Sends an IQ of `type` (get or set) with `payload` to `to` (default: `serviceDomain`; "": no
    /// `to`, the account itself) and
    /// returns the result's payload (nil for an empty result). A stanza error is thrown as
    /// `.refused` with the server's condition and text.
    @discardableResult
    public func request(_ type: String, _ payload: XMLElement, to: String? = nil) async throws(XMPPClientError) -> XMLElement? {
        nextID += 1
        // Unpredictable, and answered only by whom it was sent to: with --gateway, answers come
        // over federation, and anyone who can reach this resource could otherwise forge one.
        let id = "c\(nextID)-\(UInt32.random(in: .min ... .max))"
        var iq = XMLElement("iq", namespace: Namespace.client, attributes: [.init("type", type), .init("id", id)], children: [.element(payload)])
        // "" addresses nobody: a request the server answers for the account (resource binding).
        let address = to ?? serviceDomain
        if !address.isEmpty { iq[attribute: "to"] = address }
        let answerers: Set<String> = address.isEmpty ? ["", options.jid.description, domain] : [address.lowercased()]
        try await send(iq)
        while true {
            let element = try await nextElement(waitingFor: "the answer to <\(payload.name) xmlns='\(payload.namespace)'/>")
            guard element.name == "iq", element[attribute: "id"] == id, answerers.contains(element[attribute: "from"]?.lowercased() ?? "") else {
                try await handleUnsolicited(element)
                continue
            }
            switch element[attribute: "type"] {
            case "result": return element.firstElement
            case "error":
                let error = element.child("error", namespace: Namespace.client) ?? element.child("error")
                let condition = error?.elements.first { $0.namespace == Namespace.stanzaErrors && $0.name != "text" }?.name ?? "undefined-condition"
                let text = error?.child("text", namespace: Namespace.stanzaErrors)?.text ?? ""
                throw .refused(condition: condition, text: text)
            default: throw .protocolViolation("an IQ reply of type \(element[attribute: "type"] ?? "none")")
            }
        }
    }

    /// Sends available presence (RFC 6121 §4.2): the server then delivers what waited for
    /// the account, and pushes (live items) reach this resource.
    public func sendPresence() async throws(XMPPClientError) {
        try await send(XMLElement("presence", namespace: Namespace.client))
    }

    /// The next message or presence the server sends, waiting at most `timeout`; IQ requests
    /// meanwhile are answered as `request` answers them. The connection is closed on timeout.
    public func receive(timeout: Duration) async throws(XMPPClientError) -> XMLElement {
        if !held.isEmpty { return held.removeFirst() }
        while true {
            let element = try await nextElement(waitingFor: "a message", timeout: timeout)
            if element.name == "message" || element.name == "presence" { return element }
            try await handleUnsolicited(element)
        }
    }

    /// A server's IQ request (a XEP-0199 ping) is answered, anything else it asks is
    /// `service-unavailable`; messages and presence are held for `receive`.
    private func handleUnsolicited(_ element: XMLElement) async throws(XMPPClientError) {
        if element.name == "message" || element.name == "presence" {
            held.append(element)
            if held.count > Self.maxHeld { held.removeFirst(held.count - Self.maxHeld) }
            return
        }
        guard element.name == "iq", let type = element[attribute: "type"], type == "get" || type == "set" else { return }
        var reply = XMLElement("iq", namespace: Namespace.client, attributes: [.init("id", element[attribute: "id"] ?? "")])
        if let from = element[attribute: "from"] { reply[attribute: "to"] = from }
        if element.firstElement?.name == "ping", element.firstElement?.namespace == Namespace.ping {
            reply[attribute: "type"] = "result"
        } else {
            reply[attribute: "type"] = "error"
            reply.append(StanzaError(.serviceUnavailable, "agora client answers no requests").element)
        }
        try await send(reply)
    }

    // MARK: Negotiation (RFC 6120 §5–§7)

    private func negotiate() async throws(XMPPClientError) {
        var features = try await openStream()
        guard features.child("starttls", namespace: Namespace.tls) != nil else {
            throw .tls("the server does not offer STARTTLS; agora client never sends credentials in the clear")
        }
        try await send(XMLElement("starttls", namespace: Namespace.tls))
        let proceed = try await nextElement(waitingFor: "STARTTLS to proceed")
        guard proceed.name == "proceed", proceed.namespace == Namespace.tls else { throw .tls("the server refused STARTTLS (<\(proceed.name)/>)") }
        try await startTLS()
        features = try await openStream()
        try await authenticate(offered: features.child("mechanisms", namespace: Namespace.sasl)?.elements.map(\.text) ?? [])
        features = try await openStream()
        guard features.child("bind", namespace: Namespace.bind) != nil else { throw .protocolViolation("the server offers no resource binding") }
        let resource = "agora-client-" + String(UInt32.random(in: .min ... .max), radix: 16)
        let bound = try await request("set", XMLElement("bind", namespace: Namespace.bind, children: [
            .element(XMLElement("resource", namespace: Namespace.bind, text: resource)),
        ]), to: "")
        guard let jid = bound?.child("jid", namespace: Namespace.bind)?.text, !jid.isEmpty else { throw .protocolViolation("the bind result names no JID") }
        guard jid.split(separator: "/").first.map(String.init)?.lowercased() == options.jid.description else {
            throw .authentication(condition: "not-authorized", text: "the server logged this client in as \(jid), not \(options.jid)")
        }
        boundJID = jid
    }

    /// Sends a stream header and returns the server's features.
    private func openStream() async throws(XMPPClientError) -> XMLElement {
        try await write("<stream:stream xmlns='jabber:client' xmlns:stream='\(Namespace.streams)' to='\(domain)' version='1.0' xml:lang='en'>")
        let event = try await nextEvent(waitingFor: "the server's stream header")
        guard case .streamOpened = event else { throw .protocolViolation("no stream header") }
        let features = try await nextElement(waitingFor: "the stream features")
        guard features.name == "features", features.namespace == Namespace.streams else {
            throw .protocolViolation("<\(features.name)/> where the stream features belong")
        }
        return features
    }

    private func startTLS() async throws(XMPPClientError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do {
            if let caFile = options.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
            if let certificate = options.certificate {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate.certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: certificate.keyFile, format: .pem))
            }
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .tls("cannot load the TLS files (--ca, --cert, --key): \(error)")
        }
        let domain = self.domain
        do {
            try await channel.eventLoop.submit { [channel, decoder] in
                // The server sends nothing more in the clear: the parser starts over for the
                // encrypted stream, and TLS goes in front of it.
                decoder.value.restart()
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: domain), position: .first)
            }.get()
        } catch {
            throw .tls("cannot start TLS: \(error)")
        }
    }

    private func authenticate(offered mechanisms: [String]) async throws(XMPPClientError) {
        let success: XMLElement
        if options.certificate != nil {
            guard mechanisms.contains("EXTERNAL") else {
                throw .authentication(condition: "invalid-mechanism", text: "the server does not offer SASL EXTERNAL for this certificate (is it from the gateway's CA, and not revoked?)")
            }
            // The authorization identity names the account: a certificate of another account
            // is then refused by the server instead of logging in as that other account.
            try await send(XMLElement("auth", namespace: Namespace.sasl, attributes: [.init("mechanism", "EXTERNAL")],
                                      text: Data(options.jid.description.utf8).base64EncodedString()))
            success = try await saslOutcome()
        } else {
            guard let password = options.password else { throw .authentication(condition: "not-authorized", text: "no password and no certificate") }
            // SCRAM-SHA-256, or SCRAM-SHA-1 from a server that has no better (Prosody 0.12, where
            // a remote account of a gateway may live); never PLAIN.
            guard let hash = [SCRAMHash.sha256, .sha1].first(where: { mechanisms.contains($0.rawValue) }) else {
                throw .authentication(condition: "invalid-mechanism", text: "the server offers no SCRAM (it offers \(mechanisms.joined(separator: ", ")))")
            }
            var scram = SCRAMClient(hash: hash, username: options.jid.localpart, password: password)
            try await send(XMLElement("auth", namespace: Namespace.sasl, attributes: [.init("mechanism", hash.rawValue)],
                                      text: Data(scram.first()).base64EncodedString()))
            let challenge = try await saslStep()
            guard challenge.name == "challenge" else { try saslRefused(challenge) }
            let serverFirst = try Self.decode(challenge.text)
            let response: [UInt8]
            do { response = try scram.final(serverFirst) } catch { throw .authentication(condition: error.condition.rawValue, text: error.reason) }
            try await send(XMLElement("response", namespace: Namespace.sasl, text: Data(response).base64EncodedString()))
            success = try await saslOutcome()
            let serverFinal = try Self.decode(success.text)
            do { try scram.verify(serverFinal) } catch { throw .authentication(condition: error.condition.rawValue, text: error.reason) }
        }
        _ = success
        do { try await channel.eventLoop.submit { [decoder] in decoder.value.restart() }.get() } catch {
            throw .streamClosed("the connection closed after login")
        }
    }

    private func saslStep() async throws(XMPPClientError) -> XMLElement {
        let element = try await nextElement(waitingFor: "the server's SASL answer")
        guard element.namespace == Namespace.sasl else { throw .protocolViolation("<\(element.name)/> during SASL") }
        return element
    }

    /// The `<success/>`, or the failure thrown.
    private func saslOutcome() async throws(XMPPClientError) -> XMLElement {
        let element = try await saslStep()
        guard element.name == "success" else { try saslRefused(element) }
        return element
    }

    private func saslRefused(_ element: XMLElement) throws(XMPPClientError) -> Never {
        let condition = element.elements.first { $0.name != "text" }?.name ?? element.name
        throw .authentication(condition: condition, text: element.child("text", namespace: Namespace.sasl)?.text ?? "")
    }

    private static func decode(_ text: String) throws(XMPPClientError) -> [UInt8] {
        guard let bytes = Data(base64Encoded: text.filter { !$0.isWhitespace }) else { throw .protocolViolation("SASL data that is not base64") }
        return Array(bytes)
    }

    // MARK: Reading and writing

    private func send(_ element: XMLElement) async throws(XMPPClientError) {
        try await write(XMLWriter.string(element))
    }

    private func write(_ text: String) async throws(XMPPClientError) {
        do { try await channel.writeAndFlush(ByteBuffer(string: text)).get() } catch {
            // A write fails when the connection has failed, and why (a TLS handshake refused,
            // a stream error) is waiting in the stream of events: report that, not the write.
            _ = try await nextEvent(waitingFor: "the server, after a write failed")
            throw .streamClosed("cannot write: \(error)")
        }
    }

    private func nextElement(waitingFor what: String, timeout: Duration? = nil) async throws(XMPPClientError) -> XMLElement {
        switch try await nextEvent(waitingFor: what, timeout: timeout) {
        case .element(let element):
            if element.name == "error", element.namespace == Namespace.streams {
                let condition = element.elements.first { $0.name != "text" }?.name ?? "undefined-condition"
                let text = element.child("text", namespace: Namespace.streamErrors)?.text
                throw .streamClosed("stream error \(condition)\(text.map { ": \($0)" } ?? "")")
            }
            return element
        case .streamOpened: throw .protocolViolation("a second stream header")
        case .streamClosed: throw .streamClosed("the server ended the stream while this client waited for \(what)")
        }
    }

    /// The next event, or an error once `options.timeout` passes without one (the
    /// connection is then closed: a late answer has nobody to go to).
    private func nextEvent(waitingFor what: String, timeout: Duration? = nil) async throws(XMPPClientError) -> XMLStreamEvent {
        let expired = Atomic<Bool>(false)
        let wait = timeout ?? options.timeout
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(wait.components.seconds) * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000)) { [channel] in
            expired.store(true, ordering: .relaxed)
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            guard let event = try await events.next() else {
                throw expired.load(ordering: .relaxed) ? XMPPClientError.timedOut(what) : .streamClosed("the connection closed while this client waited for \(what)")
            }
            return event
        } catch let error as XMPPClientError {
            throw error
        } catch {
            if expired.load(ordering: .relaxed) { throw .timedOut(what) }
            throw Self.classify(error, domain: domain)
        }
    }

    private static func classify(_ error: any Error, domain: String) -> XMPPClientError {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .tls("the server's certificate does not name \(domain)")
        }
        // A TLS connection cut without close_notify (the server was killed, the link dropped)
        // is a lost connection, not a certificate problem.
        if let ssl = error as? NIOSSLError, case .uncleanShutdown = ssl {
            return .streamClosed("the connection was cut (\(error))")
        }
        if error is NIOSSLError || "\(error)".contains("CERTIFICATE_VERIFY_FAILED") {
            return .tls("the server's certificate is not trusted (\(error)); give the gateway's CA with --ca FILE (the gateway's xmpp/ca.pem)")
        }
        if let streamError = error as? StreamError { return .streamClosed("\(streamError)") }
        return .streamClosed("\(error)")
    }

    private static func connectionReason(_ error: any Error, host: String) -> String {
        if let connection = error as? NIOConnectionError {
            if connection.dnsAError != nil || connection.dnsAAAAError != nil, connection.connectionErrors.isEmpty {
                return "the name \(host) does not resolve (use --server HOST:PORT)"
            }
            if let io = connection.connectionErrors.first?.error as? IOError { return systemErrorText(io.errnoCode) }
        }
        if let io = error as? IOError { return systemErrorText(io.errnoCode) }
        if error is ChannelError { return "timed out" }
        return "\(error)"
    }
}
