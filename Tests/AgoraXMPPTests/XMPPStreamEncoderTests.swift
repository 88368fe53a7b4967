import AgoraCore
@testable import AgoraXMPP
import NIOCore
import Testing

/// What the server writes on a stream, byte for byte.
struct XMPPStreamEncoderTests {
    let allocator = ByteBufferAllocator()

    @Test func theC2SHeaderIsTheOneClientsHaveAlwaysReceived() {
        let encoder = XMPPStreamEncoder(contentNamespace: Namespace.client, from: "gw.test")
        #expect(String(buffer: encoder.header(id: "abc+/=", allocator: allocator)) ==
                "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='abc+/=' from='gw.test' version='1.0' xml:lang='en'>")
        #expect(String(buffer: encoder.closingTag(allocator: allocator)) == "</stream:stream>")
    }

    @Test func stanzasInTheStreamsContentNamespaceCarryNoXmlnsAndOthersDo() {
        let client = XMPPStreamEncoder(contentNamespace: Namespace.client, from: "gw.test")
        let server = XMPPStreamEncoder(contentNamespace: "jabber:server", from: "gw.test")
        let message = XMLElement("message", namespace: Namespace.client, attributes: [.init("to", "a@b")])
        #expect(String(buffer: client.encode(message, allocator: allocator)) == "<message to='a@b'/>")
        #expect(String(buffer: server.encode(message, allocator: allocator)) == "<message xmlns='jabber:client' to='a@b'/>")
        let features = XMLElement("features", namespace: Namespace.streams)
        #expect(String(buffer: client.encode(features, allocator: allocator)) == "<stream:features/>")
    }
}
