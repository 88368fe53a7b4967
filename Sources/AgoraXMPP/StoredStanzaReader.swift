/// Reads back stanzas the server stored as bytes (offline messages, kept live items): one
/// parser for all of them, fed as if they were one stream, so each costs no new parser and
/// no new stream header.
///
/// Not Sendable: one reader belongs to the delivery that uses it.
public struct StoredStanzaReader {
    private let parser = XMLStreamParser()
    private var events: [XMLStreamEvent] = []

    public init() {
        _ = parser.feed(Array("<s xmlns='jabber:client'>".utf8), into: &events)
    }

    /// The stanzas in one stored value (normally one).
    public mutating func stanzas(in bytes: [UInt8]) -> [XMLElement] {
        events.removeAll(keepingCapacity: true)
        _ = parser.feed(bytes, into: &events)
        return events.compactMap { if case .element(let stanza) = $0 { stanza } else { nil } }
    }
}
