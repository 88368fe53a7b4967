internal import AgoraCore

extension XMLElement {
    /// Moves this element and its descendants from one content namespace to the other
    /// (`jabber:client` inside the server, `jabber:server` on s2s streams, RFC 6120 §4.8.3).
    mutating func renamespace(from old: String, to new: String) {
        if namespace == old { namespace = new }
        for index in children.indices {
            if case .element(var child) = children[index], child.namespace == old || !child.children.isEmpty {
                child.renamespace(from: old, to: new)
                children[index] = .element(child)
            }
        }
    }
}
