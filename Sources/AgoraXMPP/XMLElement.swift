/// One XML element of an XMPP stream, with its namespace resolved.
///
/// Stanzas are small trees that live for one routing step, so a plain value type is the
/// whole model: no parent links, no DOM. The namespace is always the resolved URI (expat
/// resolves prefixes); serialisation writes `xmlns` only where it differs from the parent.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var attributes: [Attribute]
    public var children: [Node]

    public struct Attribute: Sendable, Equatable {
        /// The local name, or `xml:lang` for the one namespaced attribute XMPP uses.
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public enum Node: Sendable, Equatable {
        case element(XMLElement)
        case text(String)
    }

    public init(_ name: String, namespace: String, attributes: [Attribute] = [], children: [Node] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    /// An element with `text` as its only content.
    public init(_ name: String, namespace: String, attributes: [Attribute] = [], text: String) {
        self.init(name, namespace: namespace, attributes: attributes, children: [.text(text)])
    }

    public subscript(attribute name: String) -> String? {
        get { attributes.first { $0.name == name }?.value }
        set {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                if let newValue { attributes[index].value = newValue } else { attributes.remove(at: index) }
            } else if let newValue {
                attributes.append(.init(name, newValue))
            }
        }
    }

    public var elements: some Sequence<XMLElement> {
        children.lazy.compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        elements.first { $0.name == name && (namespace == nil || $0.namespace == namespace) }
    }

    /// The first child element, the payload of an IQ.
    public var firstElement: XMLElement? { elements.first { _ in true } }

    /// The concatenated character data directly inside this element.
    public var text: String {
        var result = ""
        for case .text(let part) in children { result += part }
        return result
    }

    public mutating func append(_ element: XMLElement) { children.append(.element(element)) }
}
