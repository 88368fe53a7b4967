internal import AgoraCore

/// XEP-0280 Message Carbons: a user's other resources that asked for it get a copy of each
/// chat they send or receive, so a conversation follows the user from phone to desktop.
/// profanity and Conversations enable it at every login (and report an error when the
/// server does not know it).
enum MessageCarbons {
    static let namespace = "urn:xmpp:carbons:2"
    static let forward = "urn:xmpp:forward:0"
    static let hints = "urn:xmpp:hints"

    /// `<enable/>` and `<disable/>` (§3.1–3.2), for the requesting resource only.
    static func register(into iq: inout IQRouter, router: @escaping @Sendable () -> StanzaRouter) {
        iq.register(namespace, forAccounts: true, onEventLoop: true) { request in
            // The router lets only the requester's own account (or the domain) be addressed.
            guard request.isSet else { return .error(.badRequest("carbons are enabled or disabled with an IQ set")) }
            let enable: Bool
            switch request.payload.name {
            case "enable": enable = true
            case "disable": enable = false
            default: return .error(.badRequest("carbons take <enable/> or <disable/>"))
            }
            guard let session = router().sessions.session(request.from) else { return .error(StanzaError(.unexpectedRequest, "no session")) }
            session.state.withLockedValue { $0.carbons = enable }
            return .result(nil)
        }
    }

    /// Whether `message` is copied (§6): a chat, or a normal message with a body, unless
    /// the sender marked it private or not to be copied.
    static func isEligible(_ message: XMLElement) -> Bool {
        let type = message[attribute: "type"] ?? "normal"
        guard type == "chat" || (type == "normal" && message.child("body") != nil) else { return false }
        return message.child("private", namespace: namespace) == nil && message.child("no-copy", namespace: hints) == nil
    }

    /// Copies of `message`, which `sender` sent to `recipient` and which went to `delivered`
    /// (none: it was stored offline): `<sent/>` to the sender's other resources with carbons
    /// on, `<received/>` to the recipient's resources with carbons on that did not get it.
    static func copy(_ message: XMLElement, from sender: Session, to recipient: BareJID, delivered: [Session], sessions: SessionRegistry) {
        guard isEligible(message) else { return }
        if recipient != sender.bare {
            for other in sessions.sessions(of: sender.bare) where other !== sender && other.isAvailable && other.state.withLockedValue({ $0.carbons }) {
                other.deliver(wrap(message, as: "sent", for: other))
            }
        }
        // A message to oneself reaches the other resources as received, not twice.
        for other in sessions.sessions(of: recipient) where other !== sender && !delivered.contains(where: { $0 === other }) && other.isAvailable
            && other.state.withLockedValue({ $0.carbons }) {
            other.deliver(wrap(message, as: "received", for: other))
        }
    }

    static func wrap(_ message: XMLElement, as direction: String, for session: Session) -> XMLElement {
        var inner = message
        inner.namespace = Namespace.client
        return XMLElement("message", namespace: Namespace.client, attributes: [
            .init("from", session.bare.description), .init("to", session.jidText), .init("type", message[attribute: "type"] ?? "normal"),
        ], children: [.element(XMLElement(direction, namespace: namespace, children: [
            .element(XMLElement("forwarded", namespace: forward, children: [.element(inner)])),
        ]))])
    }
}
