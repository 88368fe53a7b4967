public import NIOCore

/// Serialises elements into the bytes of an XMPP stream.
///
/// Hand-written because it is the hot path (every stanza out) and needs only escaping and
/// default-namespace bookkeeping; a general XML writer would add allocation per node.
/// Elements of the streams namespace are written with the `stream:` prefix the stream
/// header declares, as every client expects for `stream:features` and `stream:error`.
public enum XMLWriter {
    public static let streamsNamespace = "http://etherx.jabber.org/streams"

    public static func write(_ element: XMLElement, parentNamespace: String = Namespace.client, into buffer: inout ByteBuffer) {
        let prefixed = element.namespace == streamsNamespace
        buffer.writeStaticString("<")
        if prefixed { buffer.writeStaticString("stream:") }
        buffer.writeString(element.name)
        let inherited = prefixed ? parentNamespace : element.namespace
        if !prefixed, element.namespace != parentNamespace {
            buffer.writeStaticString(" xmlns='")
            writeEscaped(element.namespace, attribute: true, into: &buffer)
            buffer.writeStaticString("'")
        }
        for attribute in element.attributes {
            buffer.writeStaticString(" ")
            buffer.writeString(attribute.name)
            buffer.writeStaticString("='")
            writeEscaped(attribute.value, attribute: true, into: &buffer)
            buffer.writeStaticString("'")
        }
        if element.children.isEmpty {
            buffer.writeStaticString("/>")
            return
        }
        buffer.writeStaticString(">")
        for child in element.children {
            switch child {
            case .element(let inner): write(inner, parentNamespace: inherited, into: &buffer)
            case .text(let text): writeEscaped(text, into: &buffer)
            }
        }
        buffer.writeStaticString("</")
        if prefixed { buffer.writeStaticString("stream:") }
        buffer.writeString(element.name)
        buffer.writeStaticString(">")
    }

    public static func bytes(_ element: XMLElement, parentNamespace: String = Namespace.client) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        write(element, parentNamespace: parentNamespace, into: &buffer)
        return buffer
    }

    public static func string(_ element: XMLElement, parentNamespace: String = Namespace.client) -> String {
        String(buffer: bytes(element, parentNamespace: parentNamespace))
    }

    /// Escapes the five XML specials, and what a parser would not give back as written: a
    /// carriage return anywhere (XML 1.0 §2.11 turns it into a line feed) and, in attribute
    /// values, tab and line feed too (§3.3.3 turns them into spaces). Without this a relayed
    /// stanza lost its `&#13;` and its attributes' tabs and line feeds (found by the
    /// `xmpp-stream` fuzz target's round trip). Runs of safe bytes are copied in one call.
    static func writeEscaped(_ text: String, attribute: Bool = false, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices {
                let replacement: StaticString
                switch bytes[index] {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "'"): replacement = "&apos;"
                case UInt8(ascii: "\""): replacement = "&quot;"
                case UInt8(ascii: "\r"): replacement = "&#13;"
                case UInt8(ascii: "\n") where attribute: replacement = "&#10;"
                case UInt8(ascii: "\t") where attribute: replacement = "&#9;"
                default: continue
                }
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<index])))
                buffer.writeStaticString(replacement)
                start = index + 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start...])))
        }
    }
}
