import AgoraCore
@testable import AgoraXMPP
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// A client of the server over a `NIOAsyncTestingChannel`: the connection's real pipeline
/// (decoder and C2S handler, as the listener builds it), fed bytes as a socket would be, its
/// writes parsed back into elements. Written for tests, so it speaks just enough XMPP: the
/// stream, SCRAM-SHA-256 (RFC 5802/7677, client side), resource binding, IQs by id.
final class TestClient: @unchecked Sendable {
    // @unchecked: a test drives one client from one task at a time; nothing is shared.
    let channel: NIOAsyncTestingChannel
    let domain: String
    private let parser = XMLStreamParser()
    private var received: [XMLElement] = []
    private var counter = 0
    private(set) var jid = ""
    /// Whether the server ended the stream (`</stream:stream>` seen).
    private(set) var streamClosed = false

    private init(channel: NIOAsyncTestingChannel, domain: String) {
        self.channel = channel
        self.domain = domain
    }

    static func connect(to server: XMPPServer, domain: String) async throws -> TestClient {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext { try server.initializeConnection(channel, directTLS: false) }
        try await channel.connect(to: try SocketAddress(ipAddress: "192.0.2.7", port: 5222)).get()
        let client = TestClient(channel: channel, domain: domain)
        try await client.openStream()
        return client
    }

    private func openStream() async throws {
        parser.reset()
        try await send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='\(domain)' version='1.0'>")
        let features = try await next()
        #expect(features.name == "features")
    }

    func send(_ xml: String) async throws {
        try await channel.writeInbound(ByteBuffer(string: xml))
        await channel.testingEventLoop.run()
    }

    func send(_ element: XMLElement) async throws {
        var buffer = ByteBuffer()
        XMLWriter.write(element, into: &buffer)
        try await channel.writeInbound(buffer)
        await channel.testingEventLoop.run()
    }

    /// The next element the server wrote, waiting up to `timeout` for it (work off the event
    /// loop answers later).
    func next(timeout: Duration = .seconds(20)) async throws -> XMLElement {
        try await next(timeout: timeout) { _ in true }
    }

    /// The first element (in order) that `matches`, keeping the others for later calls.
    func next(timeout: Duration = .seconds(20), where matches: (XMLElement) -> Bool) async throws -> XMLElement {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let index = received.firstIndex(where: matches) { return received.remove(at: index) }
            try await pump()
            if received.firstIndex(where: matches) != nil { continue }
            guard ContinuousClock.now < deadline else { throw TestClientError.timedOut(received.map { "<\($0.name) \($0.attributes.map { "\($0.name)='\($0.value)'" }.joined(separator: " "))>" }) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Reads whatever the server has written so far into `received`.
    private func pump() async throws {
        await channel.testingEventLoop.run()
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) {
            var events: [XMLStreamEvent] = []
            if let error = parser.feed(Array(buffer.readableBytesView), into: &events) { throw error }
            for event in events {
                switch event {
                case .element(let element): received.append(element)
                case .streamClosed: streamClosed = true
                case .streamOpened: break
                }
            }
        }
    }

    /// Everything received and not yet taken, after letting pending work finish.
    func drain() async throws -> [XMLElement] {
        try await pump()
        defer { received = [] }
        return received
    }

    func nextID() -> String {
        counter += 1
        return "t\(counter)"
    }

    /// Sends an IQ (to the domain, or to `to`; "" for none) and returns the server's reply
    /// (result or error) to it.
    func iq(_ type: String, to: String? = nil, _ payload: String) async throws -> XMLElement {
        let id = nextID()
        let address = to ?? domain
        try await send("<iq type='\(type)' id='\(id)'\(address.isEmpty ? "" : " to='\(address)'")>\(payload)</iq>")
        return try await next { $0.name == "iq" && $0[attribute: "id"] == id && ($0[attribute: "type"] == "result" || $0[attribute: "type"] == "error") }
    }

    // MARK: Login

    func authenticate(username: String, password: String) async throws {
        let hash = SCRAMHash.sha256
        let clientNonce = UUID().uuidString
        let bare = "n=\(username),r=\(clientNonce)"
        try await send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>\(Data(("n,," + bare).utf8).base64EncodedString())</auth>")
        let challenge = try await next()
        guard challenge.name == "challenge", let decoded = Data(base64Encoded: challenge.text) else { throw TestClientError.refused(challenge) }
        let serverFirst = String(decoding: decoded, as: UTF8.self)
        var fields: [String: String] = [:]
        for part in serverFirst.split(separator: ",") where part.count > 2 { fields[String(part.prefix(1))] = String(part.dropFirst(2)) }
        guard let nonce = fields["r"], let saltText = fields["s"], let salt = Data(base64Encoded: saltText),
              let iterations = fields["i"].flatMap(Int.init) else { throw TestClientError.refused(challenge) }
        let salted = try hash.saltedPassword(Array(password.utf8), salt: Array(salt), iterations: iterations)
        let clientKey = hash.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = hash.hash(clientKey)
        let withoutProof = "c=biws,r=\(nonce)"
        let authMessage = bare + "," + serverFirst + "," + withoutProof
        let signature = hash.hmac(key: storedKey, Array(authMessage.utf8))
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        let final = withoutProof + ",p=" + Data(proof).base64EncodedString()
        try await send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Data(final.utf8).base64EncodedString())</response>")
        let outcome = try await next()
        guard outcome.name == "success" else { throw TestClientError.refused(outcome) }
        try await openStream()
    }

    func bind(resource: String) async throws {
        let reply = try await iq("set", to: "", "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>\(resource)</resource></bind>")
        guard reply[attribute: "type"] == "result", let bound = reply.child("bind")?.child("jid")?.text else { throw TestClientError.refused(reply) }
        jid = bound
    }

    func close() async throws {
        try await send("</stream:stream>")
        try? await channel.close()
    }
}

enum TestClientError: Error, CustomStringConvertible {
    case timedOut([String])
    case refused(XMLElement)

    var description: String {
        switch self {
        case .timedOut(let held): "nothing matching arrived in time; held: \(held)"
        case .refused(let element): "refused: <\(element.name)> \(element.attributes)"
        }
    }
}

extension TestClient {
    /// A roster push or other server-initiated IQ set.
    static func isPush(_ element: XMLElement) -> Bool { element.name == "iq" && element[attribute: "type"] == "set" }
}

extension XMLElement {
    /// How many child elements it has.
    var elementCount: Int { elements.reduce(0) { count, _ in count + 1 } }

    /// The defined condition of a stanza error (`type='error'`), or nil.
    var errorCondition: String? {
        guard self[attribute: "type"] == "error", let error = child("error") else { return nil }
        return error.elements.first { $0.namespace == Namespace.stanzaErrors && $0.name != "text" }?.name
    }
}
