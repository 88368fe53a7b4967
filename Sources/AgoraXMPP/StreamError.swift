/// A stream-level error (RFC 6120 §4.9): sent as `<stream:error>`, then the stream is
/// closed. Only the offending stream ends; the server and every other session go on.
public struct StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Condition: String, Sendable {
        case badFormat = "bad-format"
        case connectionTimeout = "connection-timeout"
        case conflict
        case hostUnknown = "host-unknown"
        case internalServerError = "internal-server-error"
        case invalidFrom = "invalid-from"
        case invalidID = "invalid-id"
        case invalidNamespace = "invalid-namespace"
        case notAuthorized = "not-authorized"
        case notWellFormed = "not-well-formed"
        case policyViolation = "policy-violation"
        case resourceConstraint = "resource-constraint"
        case restrictedXML = "restricted-xml"
        case systemShutdown = "system-shutdown"
        case unsupportedStanzaType = "unsupported-stanza-type"
        case unsupportedVersion = "unsupported-version"
    }

    public let condition: Condition
    /// A human explanation; never echoes client input beyond a short name.
    public let text: String

    public init(_ condition: Condition, _ text: String) {
        self.condition = condition
        self.text = text
    }

    public var description: String { "\(condition.rawValue): \(text)" }

    public var element: XMLElement {
        XMLElement("error", namespace: Namespace.streams, children: [
            .element(XMLElement(condition.rawValue, namespace: Namespace.streamErrors)),
            .element(XMLElement("text", namespace: Namespace.streamErrors, attributes: [.init("xml:lang", "en")], text: text)),
        ])
    }
}
