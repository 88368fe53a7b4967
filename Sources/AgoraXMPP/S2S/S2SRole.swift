internal import AgoraCore

/// The state machine of an inbound server-to-server stream.
typealias S2SStateMachine = XMPPStreamStateMachine<S2SRole>

/// An inbound server-to-server stream (RFC 6120 with `jabber:server`), from the receiving
/// server's side: TLS always; SASL EXTERNAL when the peer's certificate chained to the trust
/// anchors (XEP-0178); Server Dialback (XEP-0220) unless certificates are required. What
/// is authenticated is the peer's domain, and every stanza it sends must be from it.
struct S2SRole: XMPPStreamRole {
    typealias Identity = String
    typealias Link = S2SInboundLink

    var tlsAvailable: Bool
    var dialback: Bool
    /// The server's components (`rooms.<domain>`, `pubsub.<domain>`): peers open streams to
    /// them as to domains of their own (RFC 6120 §2.5).
    var otherDomains: Set<String> = []

    var contentNamespace: String { Namespace.server }
    var tlsRequired: Bool { true }
    var bindsResources: Bool { false }
    var requiresPeerDomain: Bool { true }
    var offersDialback: Bool { dialback }

    /// EXTERNAL only: a server has no password. Offered when the TLS peer presented a
    /// certificate NIOSSL verified against the trust anchors; whether it names the domain
    /// is checked when the peer asks for it.
    func mechanisms(secure: Bool, clientCertificate: Bool) -> [String] {
        secure && clientCertificate ? ["EXTERNAL"] : []
    }

    /// Nothing is negotiated after authentication: stanzas flow at once (RFC 6120 §9.2.3).
    func featuresAfterAuthentication() -> [XMLElement] { [] }

    func dialbackIdentity(_ domain: String) -> String? { dialback ? domain : nil }

    /// RFC 6120 §4.9.3.9 / §13.5: a peer speaks only for the domain it authenticated, and
    /// only to this server's domains (its own and its components').
    func admit(_ stanza: XMLElement, on link: S2SInboundLink) throws(StreamError) {
        guard let from = stanza[attribute: "from"], let sender = try? JID(parsing: from), sender.domain == link.domain else {
            throw StreamError(.invalidFrom, "stanzas on this stream must be from \(link.domain)")
        }
        guard let to = stanza[attribute: "to"], let recipient = try? JID(parsing: to), link.serves(recipient.domain) else {
            throw StreamError(.hostUnknown, "stanzas on this stream must be to a domain this server serves")
        }
    }
}
