@testable import AgoraXMPP
import Testing

/// The expat stream parser: events, namespaces, RFC 6120 §11.1 restrictions and limits.
struct XMLStreamParserTests {
    static let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='gw.test' version='1.0'>"

    func parse(_ text: String, limits: XMLStreamParser.Limits = .init()) -> ([XMLStreamEvent], StreamError?) {
        let parser = XMLStreamParser(limits: limits)
        var events: [XMLStreamEvent] = []
        let error = parser.feed(Array(text.utf8), into: &events)
        return (events, error)
    }

    @Test func streamHeaderStanzasAndCloseArriveAsEventsWithNamespacesResolved() {
        let (events, error) = parse(Self.header + "<message to='a@gw.test' xml:lang='en'><body>hi &amp; bye</body></message> <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>")
        #expect(error == nil)
        #expect(events.count == 4)
        guard case .streamOpened(let root) = events[0], case .element(let message) = events[1], case .element(let iq) = events[2] else {
            Issue.record("unexpected events \(events)"); return
        }
        #expect(root.name == "stream" && root.namespace == Namespace.streams && root[attribute: "to"] == "gw.test")
        #expect(message.namespace == Namespace.client && message[attribute: "xml:lang"] == "en")
        #expect(message.child("body")?.text == "hi & bye")
        #expect(iq.firstElement?.namespace == Namespace.ping)
        #expect(events[3] == .streamClosed)
    }

    @Test func bytesSplitAnywhereGiveTheSameEvents() {
        let text = Self.header + "<message><body>ünïcödé</body></message>"
        let whole = parse(text).0
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        for byte in Array(text.utf8) { #expect(parser.feed([byte], into: &events) == nil) }
        #expect(events == whole)
    }

    @Test(arguments: [
        "<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>",
        "<!-- a comment -->",
        "<?foo bar?>",
    ])
    func doctypesCommentsAndProcessingInstructionsAreRestrictedXML(_ bad: String) {
        let (_, error) = parse(Self.header + bad + "<message/>")
        #expect(error?.condition == .restrictedXML)
    }

    /// Found by the xmpp-stream fuzz target: with `<!` and the keyword in different reads,
    /// the error was classified from the last read alone, and came out not-well-formed.
    @Test(arguments: [1, 2, 3, 9])
    func aMarkupDeclarationSplitAcrossReadsIsStillRestrictedXML(_ readSize: Int) {
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        let bytes = Array((Self.header + "<message/><!ENTITY lol 'lol'>").utf8)
        var error: StreamError?
        for start in stride(from: 0, to: bytes.count, by: readSize) where error == nil {
            error = parser.feed(Array(bytes[start..<min(start + readSize, bytes.count)]), into: &events)
        }
        #expect(error?.condition == .restrictedXML)
        #expect(events.count == 2)
    }

    @Test func aDoctypeBeforeTheStreamIsRestrictedXMLToo() {
        let (events, error) = parse("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>")
        #expect(events.isEmpty)
        #expect(error?.condition == .restrictedXML)
    }

    @Test func anOversizedStanzaIsRefusedBeforeItIsBuffered() {
        let parser = XMLStreamParser(limits: .init(maxStanzaBytes: 64 * 1024, maxDepth: 32))
        var events: [XMLStreamEvent] = []
        #expect(parser.feed(Array((Self.header + "<message><body>").utf8), into: &events) == nil)
        var error: StreamError?
        var fed = 0
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 8192)
        while error == nil, fed < 10 << 20 {
            error = parser.feed(chunk, into: &events)
            fed += chunk.count
        }
        #expect(error?.condition == .policyViolation)
        #expect(fed <= 64 * 1024 + 8192)
    }

    @Test func manySmallStanzasDoNotAddUpToTheSizeLimit() {
        let stanza = "<message><body>\(String(repeating: "x", count: 900))</body></message>"
        let (events, error) = parse(Self.header + String(repeating: stanza, count: 200), limits: .init(maxStanzaBytes: 4096, maxDepth: 8))
        #expect(error == nil)
        #expect(events.count == 201)
    }

    @Test func deepNestingIsAPolicyViolation() {
        let deep = String(repeating: "<a>", count: 10_000)
        let (_, error) = parse(Self.header + "<message>" + deep)
        #expect(error?.condition == .policyViolation)
    }

    @Test func invalidUTF8IsNotWellFormed() {
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        let bytes = Array((Self.header + "<message><body>").utf8) + [0xC3, 0x28, 0xFF] + Array("</body></message>".utf8)
        #expect(parser.feed(bytes, into: &events)?.condition == .notWellFormed)
    }

    @Test func anUndeclaredEntityIsNotWellFormed() {
        #expect(parse(Self.header + "<message><body>&lol;</body></message>").1?.condition == .notWellFormed)
    }

    @Test func resetStartsANewStream() {
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        _ = parser.feed(Array((Self.header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").utf8), into: &events)
        parser.reset()
        events = []
        #expect(parser.feed(Array(Self.header.utf8), into: &events) == nil)
        guard case .streamOpened = events.first else { Issue.record("no new stream"); return }
    }
}

extension XMLStreamParserTests {
    @Test func prefixedAttributesCannotSmuggleASecondFrom() {
        let (events, error) = parse(Self.header + "<message xmlns:p='urn:x' from='a@gw.test/r' p:from='admin@gw.test/x' xml:lang='en'/>")
        #expect(error == nil)
        guard case .element(let message)? = events.last else { Issue.record("no stanza"); return }
        #expect(message.attributes.map(\.name) == ["from", "xml:lang"])
    }

    @Test func textInManyPiecesBecomesOneNodeBesideItsChildren() {
        let lines = String(repeating: "line &amp; more\n", count: 20_000)
        let (events, error) = parse(Self.header + "<message><body>\(lines)</body>tail<x xmlns='urn:x'/>end</message>",
                                    limits: .init(maxStanzaBytes: 1 << 20, maxDepth: 8))
        #expect(error == nil)
        guard case .element(let message)? = events.last else { Issue.record("no stanza"); return }
        #expect(message.child("body")?.children.count == 1)
        #expect(message.child("body")?.text == String(repeating: "line & more\n", count: 20_000))
        #expect(message.children.count == 4)
        #expect(message.text == "tailend")
    }
}
