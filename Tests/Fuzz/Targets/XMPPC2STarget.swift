@testable import AgoraXMPP
@testable import AgoraApp
import AgoraCore
import AgoraServices
import Foundation
import NIOCore
import NIOEmbedded

/// `xmpp-c2s`: the bytes are what a client sends, through the pipeline the server builds
/// for each connection (`XMPPStreamDecoder` → `C2SConnection`), on a thread-safe testing
/// channel, with the gateway's router, core services and every AgoraServices namespace.
///
/// The first byte sets up the connection: bits 0–1 pick who is already authenticated
/// (0: nobody, the stream starts at SASL; 1: alice, operator; 2: carol, consumer; 3: bob,
/// owner) — a fuzzer cannot compute SCRAM proofs, so the rest of the stream starts where
/// SASL success leaves it: the restarted stream header, then bind, then stanzas; bits 2–7
/// times 16 is the size of the reads the bytes arrive in (0: one read).
///
/// Invariants: no crash; every asynchronous IQ is answered within 5 s; what the server
/// writes is well-formed XML, stream after stream.
final class XMPPC2STarget: @unchecked Sendable {
    // @unchecked: everything is set once in init; the loop is thread-safe (NIOAsyncTestingEventLoop).
    static let shared = XMPPC2STarget()

    let context: XMPPServerContext
    let loop = NIOAsyncTestingEventLoop()
    let accounts: [BareJID?]

    private init() {
        let fuzz = FuzzGateway.shared
        let gateway = fuzz.gateway
        accounts = [nil, fuzz.alice, fuzz.carol, fuzz.bob]
        var configuration = XMPPConfiguration(domain: FuzzGateway.domain)
        configuration.tlsRequired = false
        configuration.connectionRatePerIP = 0
        configuration.softwareVersion = "fuzz"
        var iq = IQRouter()
        let sessions = SessionRegistry()
        let live: LiveService
        do {
            let services = IQContext(market: gateway.market, store: gateway.store, ledger: gateway.ledger, logger: fuzz.logger)
            AgoraServices.register(into: &iq, context: services,
                                   domain: FuzzGateway.domain, certificates: try GatewayCertificateDesk(gateway: gateway),
                                   operators: GatewayOperatorDesk(gateway: gateway))
            // The live-readings component (pubsub.fuzz.example), as XMPPSetup wires it.
            live = try LiveService(context: services, sessions: sessions, domain: FuzzGateway.domain, configuration: LiveConfiguration())
        } catch {
            fatalError("the c2s target could not be set up: \(error)")
        }
        let metrics = XMPPMetrics()
        // The server's work runs for the life of the harness, as XMPPServer.run would run it.
        let work = ServerWork()
        Task { await work.run() }
        Task { try await live.run() }
        // Routed as XMPPServer.init routes (rooms, archives, block lists, personal eventing too).
        let router: StanzaRouter
        do {
            (router, _) = try XMPPServer.router(configuration: configuration, store: gateway.store,
                                                accountExists: XMPPSetup.accountHooks(for: gateway).exists, services: iq,
                                                sessions: sessions, components: [live.component], work: work, metrics: metrics, logger: fuzz.logger)
        } catch {
            fatalError("the c2s target could not be set up: \(error)")
        }
        context = XMPPServerContext(configuration: configuration, router: router, credentials: CredentialStore(store: gateway.store),
                                    accounts: XMPPSetup.accountHooks(for: gateway), metrics: metrics, tls: nil, logger: fuzz.logger,
                                    blockingWorkInline: true)
        // SASL's blocking steps run inline here (deterministic inputs, no pool threads that
        // LeakSanitizer cannot see through); C2SConnectionTests cover the pool.
    }

    func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard let first = input.first else { return [] }
        let account = accounts[Int(first & 3)]
        let readSize = Int(first >> 2) * 16
        let bytes = Array(input.dropFirst())
        do {
            return try blocking { [self] in await converse(bytes, as: account, readSize: readSize) }
        } catch {
            return ["the conversation could not be run: \(error)"]
        }
    }

    func converse(_ bytes: [UInt8], as account: BareJID?, readSize: Int) async -> [String] {
        var problems: [String] = []
        let channel = NIOAsyncTestingChannel(loop: loop)
        let handler = ConnectionBox()
        do {
            // The handlers are made on the loop they belong to (they are not Sendable).
            try await loop.executeInContext { [context] in
                let decoder = XMPPStreamDecoder(limits: context.configuration.limits)
                let connection: C2SConnection
                if let account {
                    let role = C2SRole(tlsRequired: context.configuration.tlsRequired, tlsAvailable: context.tls != nil,
                                       plainEnabled: context.configuration.plainEnabled)
                    connection = C2SConnection(server: context, decoder: decoder,
                                               machine: C2SStateMachine(role: role, domain: context.domain, authenticated: account))
                } else {
                    connection = C2SConnection(server: context, decoder: decoder, directTLS: false)
                }
                try channel.pipeline.syncOperations.addHandlers([decoder, connection])
                handler.connection = connection
            }
            try await channel.connect(to: try SocketAddress(ipAddress: "192.0.2.7", port: 5222)).get()
        } catch {
            return ["the channel could not be set up: \(error)"]
        }
        var output: [UInt8] = []
        var offset = 0
        let step = readSize == 0 ? max(bytes.count, 1) : readSize
        while offset < bytes.count, channel.isActive {
            let end = min(offset + step, bytes.count)
            do { try await channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end])) } catch { break }
            await loop.run()
            offset = end
            await drainOutput(channel, into: &output)
        }
        // The session this connection bound, even if its stream has ended since: IQs it
        // started are still answered (into the void), and must be done before the next input.
        let session = try? await loop.executeInContext { handler.connection?.boundSession }
        if let problem = await settle(session ?? nil) { problems.append(problem) }
        await drainOutput(channel, into: &output)
        try? await channel.close()
        await loop.run()
        if let problem = await settle(session ?? nil) { problems.append(problem) }
        // Every timer (negotiation, close, resumption) fires: sessions of this input end.
        await loop.advanceTime(by: .seconds(Int64(context.configuration.resumeTimeoutSeconds) + 120))
        await drainOutput(channel, into: &output)
        problems += Self.wellFormed(output)
        if account != nil { problems += Self.unanswered(bytes, output) }
        if Self.trace { FileHandle.standardError.write(Data(output + Array("\n".utf8))) }
        return problems
    }

    /// Waits until the server's work is done: no IQ still being answered, offline writes
    /// durable, presence fanned out. (The deliveries it made reach the loop afterwards.)
    func settle(_ ended: Session?) async -> String? {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            await loop.run()
            let inFlight = context.router.work.inFlight
            if inFlight == 0 { break }
            guard ContinuousClock.now < deadline else { return "\(inFlight) jobs (IQs, offline writes, presence) still running after 5 s" }
            try? await Task.sleep(for: .milliseconds(1))
        }
        await loop.run()
        return nil
    }

    func drainOutput(_ channel: NIOAsyncTestingChannel, into output: inout [UInt8]) async {
        while let buffer = try? await channel.readOutbound(as: ByteBuffer.self) {
            output += buffer.readableBytesView
        }
    }

    /// `AGORA_FUZZ_TRACE=1`: what the server wrote goes to stderr (to read a finding).
    static let trace = ProcessInfo.processInfo.environment["AGORA_FUZZ_TRACE"] != nil

    static let declaration = Array("<?xml version='1.0'?>".utf8)

    /// The server's output: each stream (a new one begins with the XML declaration, after
    /// SASL success) must parse without error, stanzas included.
    static func wellFormed(_ output: [UInt8]) -> [String] {
        var problems: [String] = []
        for stream in split(output, on: declaration) where !stream.isEmpty {
            let parser = XMLStreamParser(limits: .init(maxStanzaBytes: 16 << 20, maxDepth: 64))
            var events: [XMLStreamEvent] = []
            if let error = stream.withUnsafeBytes({ parser.feed($0, into: &events) }) {
                problems.append("the server wrote XML that does not parse (\(error)): \(String(decoding: stream.prefix(300), as: UTF8.self))")
            }
        }
        return problems
    }

    /// RFC 6120 §8.2.3: every IQ get or set is answered with a result or an error. Checked for
    /// requests the server itself answers (no resource in `to`; with an id to match), when the
    /// stream neither ended nor failed: then no reply may go missing, asynchronous ones included.
    static func unanswered(_ input: [UInt8], _ output: [UInt8]) -> [String] {
        let sent = elements(of: input)
        guard sent.completed else { return [] }
        var requests: [String: Int] = [:]
        for stanza in sent.elements where stanza.name == "iq" && stanza.namespace == Namespace.client {
            guard let id = stanza[attribute: "id"], ["get", "set"].contains(stanza[attribute: "type"] ?? "") else { continue }
            if let to = stanza[attribute: "to"], to.contains("/") { continue }
            requests[id, default: 0] += 1
        }
        guard !requests.isEmpty else { return [] }
        var replies: [String: Int] = [:]
        for stream in split(output, on: declaration) {
            let received = elements(of: Array(stream))
            if received.elements.contains(where: { $0.name == "error" && $0.namespace == Namespace.streams }) { return [] }
            for stanza in received.elements where stanza.name == "iq" && ["result", "error"].contains(stanza[attribute: "type"] ?? "") {
                if let id = stanza[attribute: "id"] { replies[id, default: 0] += 1 }
            }
        }
        let missing = requests.filter { replies[$0.key, default: 0] < $0.value }.keys.sorted()
        guard !missing.isEmpty else { return [] }
        return ["IQs without a reply: \(missing.prefix(5).map { "'\($0.prefix(40))'" }.joined(separator: ", "))"]
    }

    /// The top-level elements of one stream, and whether it went on to the end without closing
    /// or failing (nothing the server might legitimately have cut short).
    static func elements(of stream: [UInt8]) -> (elements: [XMLElement], completed: Bool) {
        let parser = XMLStreamParser(limits: .init(maxStanzaBytes: 16 << 20, maxDepth: 64))
        var events: [XMLStreamEvent] = []
        let error = parser.feed(stream, into: &events)
        var elements: [XMLElement] = []
        var opened = 0
        for event in events {
            switch event {
            case .streamOpened: opened += 1
            case .element(let element): elements.append(element)
            case .streamClosed: return (elements, false)
            }
        }
        return (elements, error == nil && opened == 1)
    }

    static func split(_ bytes: [UInt8], on separator: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index + separator.count <= bytes.count {
            if bytes[index..<index + separator.count].elementsEqual(separator) {
                parts.append(bytes[start..<index])
                index += separator.count
                start = index
            } else {
                index += 1
            }
        }
        parts.append(bytes[start...])
        return parts
    }
}

/// The connection handler of one conversation, touched only on the loop (in `executeInContext`).
private final class ConnectionBox: @unchecked Sendable {
    // @unchecked: `connection` is written and read only in closures run by `loop.executeInContext`,
    // that is on the one testing loop, one at a time; the box itself only carries it between them.
    var connection: C2SConnection?
}

