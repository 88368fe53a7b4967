internal import NIOCore

/// What the server writes on one XMPP stream, as bytes: its header (RFC 6120 §4.7), the
/// top-level elements and stanzas in it (RFC 6120 §4.8.3: in the stream's default
/// namespace, so a stanza carries no `xmlns` of its own), and the closing tag (§4.4).
///
/// A value the connection owns rather than a pipeline handler: every stanza out goes
/// through it, and a handler would cost a pipeline hop per write. Parameterised by the
/// stream's content namespace so an s2s stream (`jabber:server`) uses it unchanged.
struct XMPPStreamEncoder: Sendable {
    /// `jabber:client` or `jabber:server`.
    let contentNamespace: String
    /// The `from` of our header: the domain this server serves.
    let from: String

    /// `<?xml?>` and our `<stream:stream>` start tag, with a fresh stream `id`.
    func header(id: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeStaticString("<?xml version='1.0'?><stream:stream xmlns='")
        XMLWriter.writeEscaped(contentNamespace, attribute: true, into: &buffer)
        buffer.writeStaticString("' xmlns:stream='http://etherx.jabber.org/streams' id='")
        XMLWriter.writeEscaped(id, attribute: true, into: &buffer)
        buffer.writeStaticString("' from='")
        XMLWriter.writeEscaped(from, attribute: true, into: &buffer)
        buffer.writeStaticString("' version='1.0' xml:lang='en'>")
        return buffer
    }

    /// A server-to-server stream header (RFC 6120 §4.7, XEP-0220 §2.1): `jabber:server` with
    /// the dialback prefix declared; the initiating side names both ends and no `id`, the
    /// receiving side answers with an `id` (dialback keys are bound to it).
    static func serverHeader(from: String, to: String?, id: String?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeStaticString("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'")
        for (name, value) in [("id", id), ("from", from), ("to", to)] {
            guard let value else { continue }
            buffer.writeString(" \(name)='")
            XMLWriter.writeEscaped(value, attribute: true, into: &buffer)
            buffer.writeStaticString("'")
        }
        buffer.writeStaticString(" version='1.0' xml:lang='en'>")
        return buffer
    }

    /// One top-level element: a stanza, or a negotiation element (features, SASL, XEP-0198,
    /// a stream error).
    func encode(_ element: XMLElement, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        XMLWriter.write(element, parentNamespace: contentNamespace, into: &buffer)
        return buffer
    }

    /// `</stream:stream>`: the end of our stream.
    func closingTag(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 16)
        buffer.writeStaticString("</stream:stream>")
        return buffer
    }
}
