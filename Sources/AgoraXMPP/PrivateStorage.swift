internal import AgoraCore
internal import AgoraStore

/// XEP-0049 private XML storage (`jabber:iq:private`): one element per (name, namespace)
/// an account keeps on its server — what profanity, Gajim and others use for bookmarks
/// (XEP-0048) when they do not use PEP. Durable in `xmpp.private`, bounded per element and
/// per account.
enum PrivateStorage {
    static let namespace = "jabber:iq:private"
    /// Bytes of one stored element, and elements one account may keep.
    static let maxElementBytes = 64 << 10
    static let maxElements = 32

    static func key(_ account: BareJID, _ name: String, _ namespace: String) -> [UInt8] {
        Array(account.description.utf8) + [0] + Array(name.utf8) + [0] + Array(namespace.utf8)
    }

    static func register(into iq: inout IQRouter, store: Store) {
        iq.register(namespace, forAccounts: true) { request in
            var children = request.payload.elements.makeIterator()
            guard let element = children.next(), children.next() == nil else {
                return .error(.badRequest("private storage holds one element per request"))
            }
            // §3: the reserved namespaces cannot be stored.
            guard !element.namespace.isEmpty, element.namespace != Namespace.client, !element.namespace.hasPrefix("jabber:iq:"),
                  !element.namespace.hasPrefix("http://jabber.org/protocol/") || element.namespace == "http://jabber.org/protocol/rosterx" else {
                return .error(StanzaError(.notAcceptable, "elements of namespace \(element.namespace.prefix(64)) cannot be stored"))
            }
            let key = key(request.account, element.name, element.namespace)
            let table = store.tables.privateStorage
            if !request.isSet {
                return .later {
                    let stored = (try? store.read { try $0.get(table, key) }) ?? nil
                    var reader = StoredStanzaReader()
                    let found = stored.flatMap { reader.stanzas(in: $0).first } ?? XMLElement(element.name, namespace: element.namespace)
                    return .result(XMLElement("query", namespace: namespace, children: [.element(found)]))
                }
            }
            let bytes = Array(buffer: XMLWriter.bytes(element, parentNamespace: namespace))
            guard bytes.count <= maxElementBytes else { return .error(StanzaError(.notAcceptable, "a stored element is at most \(maxElementBytes) bytes")) }
            let prefix = Array(request.account.description.utf8) + [0]
            return .later {
                do {
                    try await store.write { txn in
                        if try !txn.contains(table, key) {
                            var count = 0
                            try txn.scan(table, prefix: prefix) { _, _ in count += 1; return count <= maxElements }
                            guard count < maxElements else { throw StanzaError(.resourceConstraint, "an account keeps at most \(maxElements) private elements") }
                        }
                        try txn.put(table, key, bytes)
                    }
                    return .result(nil)
                } catch let error as StanzaError {
                    return .error(error)
                } catch {
                    return .error(StanzaError(.internalServerError, "the element could not be stored"))
                }
            }
        }
    }
}
