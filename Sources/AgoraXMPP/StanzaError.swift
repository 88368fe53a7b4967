/// A stanza-level error (RFC 6120 §8.3): the stanza is answered with `type='error'`, the
/// stream goes on. Every refusal carries a `<text>` that says why.
public struct StanzaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Condition: String, Sendable {
        case badRequest = "bad-request"
        case conflict
        case featureNotImplemented = "feature-not-implemented"
        case forbidden
        case internalServerError = "internal-server-error"
        case itemNotFound = "item-not-found"
        case jidMalformed = "jid-malformed"
        case notAcceptable = "not-acceptable"
        case notAllowed = "not-allowed"
        case notAuthorized = "not-authorized"
        case policyViolation = "policy-violation"
        case recipientUnavailable = "recipient-unavailable"
        case registrationRequired = "registration-required"
        case remoteServerNotFound = "remote-server-not-found"
        case remoteServerTimeout = "remote-server-timeout"
        case resourceConstraint = "resource-constraint"
        case serviceUnavailable = "service-unavailable"
        case unexpectedRequest = "unexpected-request"

        /// The error type RFC 6120 §8.3.3 associates with the condition.
        var type: String {
            switch self {
            case .badRequest, .jidMalformed, .notAcceptable, .policyViolation, .featureNotImplemented: "modify"
            case .forbidden, .notAuthorized, .registrationRequired: "auth"
            case .internalServerError, .resourceConstraint, .unexpectedRequest, .recipientUnavailable: "wait"
            case .conflict, .itemNotFound, .notAllowed, .remoteServerNotFound, .serviceUnavailable: "cancel"
            case .remoteServerTimeout: "wait"
            }
        }
    }

    public let condition: Condition
    public let text: String
    /// An application element sent in place of the echoed request payload (XEP-0323's
    /// `<rejected/>`, which its clients look for as the IQ's child).
    public let payload: XMLElement?
    /// An application-specific condition, inside `<error/>` after the text (RFC 6120
    /// §8.3.2, e.g. XEP-0060's `<not-subscribed/>`).
    public let applicationCondition: XMLElement?

    public init(_ condition: Condition, _ text: String, payload: XMLElement? = nil, applicationCondition: XMLElement? = nil) {
        self.condition = condition
        self.text = text
        self.payload = payload
        self.applicationCondition = applicationCondition
    }

    public static func badRequest(_ text: String) -> StanzaError { .init(.badRequest, text) }
    public static func forbidden(_ text: String) -> StanzaError { .init(.forbidden, text) }
    public static func itemNotFound(_ text: String) -> StanzaError { .init(.itemNotFound, text) }

    public var description: String { "\(condition.rawValue): \(text)" }

    public var element: XMLElement {
        var error = XMLElement("error", namespace: Namespace.client, attributes: [.init("type", condition.type)], children: [
            .element(XMLElement(condition.rawValue, namespace: Namespace.stanzaErrors)),
            .element(XMLElement("text", namespace: Namespace.stanzaErrors, attributes: [.init("xml:lang", "en")], text: text)),
        ])
        if let applicationCondition { error.append(applicationCondition) }
        return error
    }

    /// The error reply to `stanza`: addresses swapped, the original payload kept (§8.3.1).
    public func reply(to stanza: XMLElement) -> XMLElement {
        var reply = XMLElement(stanza.name, namespace: Namespace.client, attributes: [])
        if let id = stanza[attribute: "id"] { reply[attribute: "id"] = id }
        reply[attribute: "type"] = "error"
        if let from = stanza[attribute: "to"] { reply[attribute: "from"] = from }
        if let to = stanza[attribute: "from"] { reply[attribute: "to"] = to }
        if let payload { reply.append(payload) } else if stanza.name == "iq", let original = stanza.firstElement { reply.append(original) }
        reply.append(element)
        return reply
    }
}
