internal import AgoraXMPP

/// XEP-0059 result set management: the `<set/>` a request may carry and the one a page
/// answers with. Items are addressed by an opaque, stable key (`after` is the last key the
/// client saw), so pages stay correct while new items are added.
struct ResultSet {
    static let namespace = "http://jabber.org/protocol/rsm"

    /// Items the client asked for: at most `cap` (XEP-0059 lets a server return fewer; asking
    /// for more than the cap is refused so a client learns the limit instead of guessing).
    let max: Int
    /// Start after this key; nil: from the beginning.
    let after: String?

    init(in parent: XMLElement, defaultMax: Int, cap: Int) throws(StanzaError) {
        guard let set = parent.child("set", namespace: Self.namespace) else {
            max = defaultMax
            after = nil
            return
        }
        if let text = set.child("max", namespace: Self.namespace)?.text {
            guard let value = Int(text), value >= 0 else { throw StanzaError(.badRequest, "<max/> must be a non-negative integer") }
            guard value <= cap else { throw StanzaError(.policyViolation, "at most \(cap) items per page; asked for \(value)") }
            max = value
        } else {
            max = defaultMax
        }
        if set.child("before", namespace: Self.namespace) != nil || set.child("index", namespace: Self.namespace) != nil {
            throw StanzaError(.featureNotImplemented, "only forward paging with <after/> is supported")
        }
        let after = set.child("after", namespace: Self.namespace)?.text
        self.after = after?.isEmpty == true ? nil : after
    }

    /// The `<set/>` of a page: its first and last keys, and the total when known.
    static func page(first: String?, last: String?, count: Int?) -> XMLElement {
        var set = XMLElement("set", namespace: namespace)
        if let first { set.append(XMLElement("first", namespace: namespace, text: first)) }
        if let last { set.append(XMLElement("last", namespace: namespace, text: last)) }
        if let count { set.append(XMLElement("count", namespace: namespace, text: String(count))) }
        return set
    }
}
