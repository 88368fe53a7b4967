internal import CExpat

/// What the XML stream parser hands upwards: the stream header, each complete top-level
/// element (a stanza or a negotiation element), and the end of the stream.
public enum XMLStreamEvent: Sendable, Equatable {
    /// The root `<stream:stream>` start tag: its name, namespace and attributes, no children.
    case streamOpened(XMLElement)
    case element(XMLElement)
    case streamClosed
}

/// An expat push parser for one XMPP stream, with RFC 6120 §11.1's restrictions.
///
/// expat is the parser ejabberd and Prosody rely on; it resolves namespaces, rejects
/// malformed XML and invalid UTF-8, and feeds us events as bytes arrive. On top of it this
/// type enforces what XMPP forbids or cannot afford: any DOCTYPE (and so every entity
/// declaration: billion laughs never gets a chance), comments and processing instructions
/// are `restricted-xml`; a top-level element larger than `maxStanzaBytes` or nested deeper
/// than `maxDepth` is `policy-violation`. Memory stays bounded because input is fed in
/// slices and the size check runs before each slice, not after the element completes.
///
/// Not thread-safe: one parser per connection, used on that connection's event loop.
public final class XMLStreamParser {
    public struct Limits: Sendable {
        public var maxStanzaBytes: Int
        public var maxDepth: Int
        public init(maxStanzaBytes: Int = 256 * 1024, maxDepth: Int = 32) {
            self.maxStanzaBytes = maxStanzaBytes
            self.maxDepth = maxDepth
        }
    }

    /// expat reports qualified names as `namespace-URI SEPARATOR local-name`.
    static let separator: CChar = 0x01
    /// Bytes per `XML_Parse` call, so the size limit is checked at least this often.
    static let sliceBytes = 16 * 1024

    public let limits: Limits
    private var parser: XML_Parser
    /// Elements under construction: index 0 is the first open element below the root.
    private var stack: [XMLElement] = []
    /// 0 before the root opens; 1 inside the root; 2+ inside a top-level element.
    private var depth = 0
    private var events: [XMLStreamEvent] = []
    private var pendingText: [UInt8] = []
    private var failure: StreamError?
    /// Bytes fed so far, and the offset where the current top-level element began (or the
    /// last one ended): their difference is the size of the element in progress.
    private var fed = 0
    private var boundary = 0

    public init(limits: Limits = .init()) {
        self.limits = limits
        guard let parser = XML_ParserCreateNS("UTF-8", Self.separator) else {
            fatalError("expat could not allocate a parser (out of memory)")
        }
        self.parser = parser
        installHandlers()
    }

    deinit { XML_ParserFree(parser) }

    /// Forgets everything: a new stream starts (after STARTTLS or SASL, RFC 6120 §4.3.3).
    public func reset() {
        XML_ParserReset(parser, "UTF-8")
        installHandlers()
        stack.removeAll(keepingCapacity: true)
        pendingText.removeAll()
        depth = 0
        events.removeAll(keepingCapacity: true)
        failure = nil
        fed = 0
        boundary = 0
    }

    /// Parses `bytes`, appending complete events to `into`. Events that completed before an
    /// error are still delivered; the error is returned and the parser must not be fed again.
    public func feed(_ bytes: UnsafeRawBufferPointer, into output: inout [XMLStreamEvent]) -> StreamError? {
        var offset = 0
        while offset < bytes.count {
            let count = min(Self.sliceBytes, bytes.count - offset)
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
            let status = XML_Parse(parser, slice.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(count), 0)
            fed += count
            offset += count
            output.append(contentsOf: events)
            events.removeAll(keepingCapacity: true)
            if status == XML_STATUS_ERROR {
                if let failure { return failure }
                return Self.classify(XML_GetErrorCode(parser), parser: parser)
            }
            // What is left of an unfinished element after this slice must fit the limit;
            // checked per slice, so at most one slice more than the limit is ever buffered.
            if fed - boundary > limits.maxStanzaBytes {
                return StreamError(.policyViolation, "stanza larger than \(limits.maxStanzaBytes) bytes")
            }
        }
        return nil
    }

    public func feed(_ bytes: [UInt8], into output: inout [XMLStreamEvent]) -> StreamError? {
        bytes.withUnsafeBytes { feed($0, into: &output) }
    }

    /// expat's error as a stream error: a markup declaration (`<!DOCTYPE`, `<!ENTITY` …) met
    /// inside the stream is restricted XML (expat sees only a syntax error there); anything
    /// else, including invalid UTF-8, is not well-formed.
    ///
    /// The bytes before the error are read from expat's own buffer, which keeps the start of a
    /// token that began in an earlier read: looking only at the last read made a declaration
    /// split across TCP reads (`<!` in one, `ENTITY` in the next) not-well-formed (found by the
    /// `xmpp-stream` fuzz target, which feeds each stream whole and in slices).
    static func classify(_ code: XML_Error, parser: XML_Parser) -> StreamError {
        var offset: Int32 = 0
        var size: Int32 = 0
        // expat points at the declaration's keyword, just after "<!".
        if let context = XML_GetInputContext(parser, &offset, &size) {
            let buffer = UnsafeRawBufferPointer(start: context, count: Int(size))
            let at = Int(offset)
            if at >= 2, at < buffer.count, buffer[at - 2] == UInt8(ascii: "<"), buffer[at - 1] == UInt8(ascii: "!"),
               buffer[at] != UInt8(ascii: "[") {
                return StreamError(.restrictedXML, "DTDs and markup declarations are not allowed in XMPP (RFC 6120 §11.1)")
            }
        }
        let reason = String(cString: XML_ErrorString(code))
        return StreamError(.notWellFormed, "XML error: \(reason)")
    }

    private func installHandlers() {
        XML_SetUserData(parser, Unmanaged.passUnretained(self).toOpaque())
        XML_SetElementHandler(parser, expatStart, expatEnd)
        XML_SetCharacterDataHandler(parser, expatText)
        XML_SetStartDoctypeDeclHandler(parser, expatDoctype)
        XML_SetEntityDeclHandler(parser, expatEntity)
        XML_SetCommentHandler(parser, expatComment)
        XML_SetProcessingInstructionHandler(parser, expatProcessingInstruction)
    }

    fileprivate func fail(_ error: StreamError) {
        if failure == nil { failure = error }
        XML_StopParser(parser, XML_FALSE)
    }

    fileprivate func start(_ qualifiedName: UnsafePointer<CChar>, _ attributes: UnsafeMutablePointer<UnsafePointer<CChar>?>) {
        guard failure == nil else { return }
        let (namespace, name) = Self.split(qualifiedName)
        var element = XMLElement(name, namespace: namespace)
        var index = 0
        while let key = attributes[index], let value = attributes[index + 1] {
            index += 2
            let (attributeNamespace, attributeName) = Self.split(key)
            // Only xml:lang-style attributes keep a namespace; any other prefixed attribute is
            // dropped, or `p:from` would become a second `from` beside the one the server stamps.
            if attributeNamespace.isEmpty {
                element.attributes.append(.init(attributeName, String(cString: value)))
            } else if attributeNamespace == Namespace.xml {
                element.attributes.append(.init("xml:" + attributeName, String(cString: value)))
            }
        }
        flushText()
        depth += 1
        if depth == 1 {
            events.append(.streamOpened(element))
            return
        }
        if depth == 2 { boundary = XML_GetCurrentByteIndex(parser) }
        guard depth - 1 <= limits.maxDepth else {
            fail(StreamError(.policyViolation, "elements nested deeper than \(limits.maxDepth)"))
            return
        }
        stack.append(element)
    }

    fileprivate func end() {
        guard failure == nil else { return }
        depth -= 1
        if depth == 0 {
            events.append(.streamClosed)
            return
        }
        flushText()
        guard let element = stack.popLast() else { return }
        if stack.isEmpty {
            boundary = XML_GetCurrentByteIndex(parser)
            events.append(.element(element))
        } else {
            stack[stack.count - 1].children.append(.element(element))
        }
    }

    /// expat reports text in many pieces (every line, every entity): they are gathered here
    /// and become one text node when the next child opens or the element closes, so a
    /// stanza of a thousand lines costs one string, not a thousand growing copies.
    fileprivate func text(_ bytes: UnsafePointer<CChar>, _ count: Int32) {
        // Whitespace between top-level elements (keep-alives) has no element to go to.
        guard failure == nil, !stack.isEmpty else { return }
        pendingText.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: Int(count)))
    }

    private func flushText() {
        guard !pendingText.isEmpty else { return }
        if !stack.isEmpty {
            stack[stack.count - 1].children.append(.text(String(decoding: pendingText, as: UTF8.self)))
        }
        pendingText.removeAll(keepingCapacity: pendingText.count <= 4096)
    }

    private static func split(_ qualified: UnsafePointer<CChar>) -> (namespace: String, name: String) {
        var cursor = qualified
        while cursor.pointee != 0 {
            if cursor.pointee == separator {
                let namespace = String(decoding: UnsafeRawBufferPointer(start: qualified, count: qualified.distance(to: cursor)), as: UTF8.self)
                return (namespace, String(cString: cursor + 1))
            }
            cursor += 1
        }
        return ("", String(cString: qualified))
    }
}

private func owner(_ userData: UnsafeMutableRawPointer?) -> XMLStreamParser {
    Unmanaged<XMLStreamParser>.fromOpaque(userData!).takeUnretainedValue()
}

private let expatStart: XML_StartElementHandler = { userData, name, attributes in
    owner(userData).start(name!, attributes!)
}

private let expatEnd: XML_EndElementHandler = { userData, _ in
    owner(userData).end()
}

private let expatText: XML_CharacterDataHandler = { userData, bytes, count in
    owner(userData).text(bytes!, count)
}

private let expatDoctype: XML_StartDoctypeDeclHandler = { userData, _, _, _, _ in
    owner(userData).fail(StreamError(.restrictedXML, "DTDs are not allowed in XMPP (RFC 6120 §11.1)"))
}

private let expatEntity: XML_EntityDeclHandler = { userData, _, _, _, _, _, _, _, _ in
    owner(userData).fail(StreamError(.restrictedXML, "entity declarations are not allowed in XMPP (RFC 6120 §11.1)"))
}

private let expatComment: XML_CommentHandler = { userData, _ in
    owner(userData).fail(StreamError(.restrictedXML, "comments are not allowed in XMPP (RFC 6120 §11.1)"))
}

private let expatProcessingInstruction: XML_ProcessingInstructionHandler = { userData, _, _ in
    owner(userData).fail(StreamError(.restrictedXML, "processing instructions are not allowed in XMPP (RFC 6120 §11.1)"))
}
