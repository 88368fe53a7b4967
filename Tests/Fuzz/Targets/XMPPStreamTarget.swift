@testable import AgoraXMPP
import AgoraCore
import NIOCore

/// `xmpp-stream`: the first byte picks how the rest is sliced (0: at once; n: n-byte
/// pieces), so expat's buffering across `XML_Parse` calls is fuzzed too.
///
/// Invariants: no crash; slicing does not change the events of a stream that parses
/// without error, nor the condition of the stream error of one that does not (the size
/// limit apart); every element the parser produced, written by `XMLWriter`, parses back to
/// the same element; the c2s state machine takes it in every state that reads elements.
enum XMPPStreamTarget {
    /// Small limits, so inputs of a few KiB reach them.
    static let limits = XMLStreamParser.Limits(maxStanzaBytes: 4096, maxDepth: 8)

    /// The c2s state machine in each state that reads elements.
    static let phases: [C2SStateMachine] = {
        let alice = try! BareJID("alice@fuzz.example")
        let domain = "fuzz.example"
        let open = C2SRole(tlsRequired: false, tlsAvailable: true, plainEnabled: true)
        let needsTLS = C2SStateMachine(role: .init(tlsRequired: true, tlsAvailable: true, plainEnabled: false), domain: domain, secure: false)
        var sasl = C2SStateMachine(role: open, domain: domain, secure: true)
        sasl.tlsHandshakeCompleted(clientCertificate: true)
        var authenticating = sasl
        _ = try! authenticating.receive(.element(XMLElement("auth", namespace: Namespace.sasl, attributes: [.init("mechanism", "SCRAM-SHA-256")], text: "")))
        var challenged = authenticating
        _ = try! challenged.authenticationCompleted(.challenge(SCRAMServer(hash: .sha256), account: "alice", serverFirst: []))
        var bind = C2SStateMachine(role: open, domain: domain, authenticated: alice)
        _ = try! bind.receive(.streamOpened(XMLElement("stream", namespace: Namespace.streams, attributes: [.init("version", "1.0")])))
        var established = bind
        try! established.bound(Session(jid: JID(alice, resource: "fuzz"), bare: alice, streamID: "fuzz"))
        return [needsTLS, sasl, authenticating, challenged, bind, established]
    }()

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard let first = input.first else { return [] }
        let stream = UnsafeRawBufferPointer(rebasing: input[1...])
        var problems: [String] = []

        let (whole, wholeError) = parse(stream, slice: 0)
        let slice = Int(first)
        let (sliced, slicedError) = slice == 0 ? (whole, wholeError) : parse(stream, slice: slice)
        if wholeError == nil, slicedError == nil, whole != sliced {
            let index = (0..<min(whole.count, sliced.count)).first { whole[$0] != sliced[$0] } ?? min(whole.count, sliced.count)
            let one = index < whole.count ? "\(whole[index])" : "nothing", other = index < sliced.count ? "\(sliced[index])" : "nothing"
            problems.append("slicing by \(slice) bytes changed event \(index) of a stream that parses without error: \(one.prefix(300)) became \(other.prefix(300))")
        }

        // The error a client gets must not depend on how TCP cut its bytes; only the size
        // limit is checked per read (and so may strike at a different point, or not at all).
        if let wholeError, let slicedError, wholeError.condition != slicedError.condition,
           wholeError.condition != .policyViolation, slicedError.condition != .policyViolation {
            problems.append("slicing by \(slice) bytes changed the stream error from \(wholeError.condition.rawValue) to \(slicedError.condition.rawValue)")
        }

        for event in sliced {
            guard case .element(let element) = event else { continue }
            for phase in phases {
                var machine = phase
                _ = try? machine.receive(.element(element))
            }
            if let problem = roundTrip(element) { problems.append(problem) }
        }
        return problems
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, slice: Int) -> ([XMLStreamEvent], StreamError?) {
        let parser = XMLStreamParser(limits: limits)
        var events: [XMLStreamEvent] = []
        guard slice > 0 else {
            let error = parser.feed(bytes, into: &events)
            return (events, error)
        }
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + slice, bytes.count)
            if let error = parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), into: &events) { return (events, error) }
            offset = end
        }
        return (events, nil)
    }

    static let header = Array("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".utf8)

    /// What the server writes of an element must be what it read: stanzas are forwarded.
    static func roundTrip(_ element: XMLElement) -> String? {
        let written = Array(buffer: XMLWriter.bytes(element))
        let parser = XMLStreamParser(limits: .init(maxStanzaBytes: 1 << 20, maxDepth: 64))
        var events: [XMLStreamEvent] = []
        if let error = parser.feed(header + written, into: &events) {
            return "the writer's output does not parse (\(error)): \(String(decoding: written.prefix(200), as: UTF8.self))"
        }
        guard events.count == 2, case .element(let back) = events[1] else {
            return "the writer's output is not one element: \(String(decoding: written.prefix(200), as: UTF8.self))"
        }
        guard back == element else {
            return "written and read back, the element changed: \(String(decoding: written.prefix(200), as: UTF8.self))"
        }
        return nil
    }
}
