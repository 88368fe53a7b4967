import AgoraCore
@testable import AgoraXMPP
import Testing

struct XMLWriterTests {
    @Test func escapesTextAndAttributesAndDeclaresOnlyChangedNamespaces() {
        var iq = XMLElement("iq", namespace: Namespace.client, attributes: [.init("id", "a'b\"<&>")])
        iq.append(XMLElement("query", namespace: Namespace.roster, children: [.element(XMLElement("item", namespace: Namespace.roster, text: "x<y & z"))]))
        #expect(XMLWriter.string(iq) == "<iq id='a&apos;b&quot;&lt;&amp;&gt;'><query xmlns='jabber:iq:roster'><item>x&lt;y &amp; z</item></query></iq>")
    }

    @Test func streamNamespaceElementsUseTheStreamPrefix() {
        let error = StreamError(.policyViolation, "too big").element
        #expect(XMLWriter.string(error) == "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>too big</text></stream:error>")
    }

    @Test func whatIsWrittenParsesBackToTheSameElement() {
        var message = XMLElement("message", namespace: Namespace.client, attributes: [.init("to", "a@b"), .init("xml:lang", "en")])
        message.append(XMLElement("body", namespace: Namespace.client, text: "ünï & <code>"))
        message.append(XMLElement("delay", namespace: Namespace.delay, attributes: [.init("stamp", "2026-01-01T00:00:00Z")]))
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        _ = parser.feed(Array((XMLStreamParserTests.header + XMLWriter.string(message)).utf8), into: &events)
        #expect(events.last == .element(message))
    }

    /// Found by the xmpp-stream fuzz target: a carriage return in text came back as a line
    /// feed, and tabs and line feeds in attribute values as spaces (XML 1.0 §2.11, §3.3.3).
    @Test func carriageReturnsAndAttributeWhitespaceSurviveARoundTrip() {
        var message = XMLElement("message", namespace: Namespace.client, attributes: [.init("id", "a\tb\nc\rd")])
        message.append(XMLElement("body", namespace: Namespace.client, text: "one\r\ntwo\rthree\n\tfour"))
        #expect(XMLWriter.string(message) == "<message id='a&#9;b&#10;c&#13;d'><body>one&#13;\ntwo&#13;three\n\tfour</body></message>")
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        _ = parser.feed(Array((XMLStreamParserTests.header + XMLWriter.string(message)).utf8), into: &events)
        #expect(events.last == .element(message))
    }
}

struct RosterItemTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func itemsSurviveTheirStoredForm(_ flags: (Bool, Bool)) throws {
        let contact = try BareJID("bob@gw.test")
        for item in [RosterItem(contact: contact),
                     RosterItem(contact: contact, name: "Bob", subscription: .both, askSubscribe: flags.0, pendingIn: flags.1, groups: ["a", "b c"])] {
            #expect(RosterItem(contact: contact, decoding: item.encoded) == item)
        }
    }
}
