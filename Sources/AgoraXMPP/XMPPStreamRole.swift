internal import AgoraCore

/// What kind of stream an `XMPPStreamStateMachine` negotiates: the seam between
/// client-to-server streams and the server-to-server streams federation will add.
///
/// Both kinds go through the same phases (RFC 6120 §4–§7): stream header, STARTTLS, SASL,
/// a restarted stream, then stanzas; the machine owns those transitions once. A role says
/// only what differs:
///
/// |                         | c2s (`C2SRole`)                                   | s2s (`S2SRole`)                                |
/// |-------------------------|---------------------------------------------------|------------------------------------------------|
/// | content namespace       | `jabber:client`                                   | `jabber:server`                                |
/// | stream header           | `to` this domain                                  | `to` this domain, `from` the peer's            |
/// | SASL mechanisms         | SCRAM; PLAIN on TLS; EXTERNAL with a certificate  | EXTERNAL with the peer's certificate, dialback |
/// | `Identity` (SASL proves)| an account, `BareJID`                             | the peer's domain                              |
/// | after the restart       | resource binding (§7) or XEP-0198 resumption      | nothing to negotiate: established at once      |
/// | `Link` (carries stanzas)| the bound `Session`                               | the inbound link from the peer domain          |
/// | each stanza             | `from` stamped by the router                      | `from` must be in the authenticated domain     |
///
/// The s2s handler (`S2SInboundConnection`) is a second user of the same machine, not a
/// copy: `S2SRole` has `bindsResources == false` and no features after authentication; its
/// handler answers the restarted stream (or a verified dialback key) with `bound(_:)` at
/// once, and writes through an `XMPPStreamEncoder` for `jabber:server`. Dialback (XEP-0220)
/// is a mechanism-like phase beside SASL in the machine.
protocol XMPPStreamRole: Sendable {
    /// What a successful SASL exchange proves the peer to be.
    associatedtype Identity: Sendable, Equatable
    /// What stanzas flow through once the stream is established.
    associatedtype Link: AnyObject, Sendable

    /// The stream's default namespace (RFC 6120 §4.8.2): the namespace of its stanzas.
    var contentNamespace: String { get }
    /// Whether nothing but STARTTLS is accepted before TLS.
    var tlsRequired: Bool { get }
    /// Whether STARTTLS can be offered at all (the server has a certificate).
    var tlsAvailable: Bool { get }
    /// Whether the restarted stream binds a resource (RFC 6120 §7) — and so may resume a
    /// XEP-0198 session — before stanzas flow.
    var bindsResources: Bool { get }
    /// The SASL mechanisms offered, in order of preference.
    func mechanisms(secure: Bool, clientCertificate: Bool) -> [String]
    /// The `<stream:features/>` children of the stream restarted after SASL.
    func featuresAfterAuthentication() -> [XMLElement]
    /// Whether the stream header must name the peer (`from`): an s2s peer's domain, which
    /// dialback and SASL EXTERNAL authenticate (RFC 6120 §4.7.1).
    var requiresPeerDomain: Bool { get }
    /// Whether Server Dialback (XEP-0220) is offered beside SASL.
    var offersDialback: Bool { get }
    /// What a verified dialback key for `domain` proves the peer to be (nil: no dialback).
    func dialbackIdentity(_ domain: String) -> Identity?
    /// Domains besides the server's own that a stream may be opened to (s2s: components).
    var otherDomains: Set<String> { get }
    /// Checks one stanza of an established stream against what authenticated it; a stanza
    /// that speaks for someone else ends the stream (RFC 6120 §13.5 for s2s: `invalid-from`).
    func admit(_ stanza: XMLElement, on link: Link) throws(StreamError)
}

extension XMPPStreamRole {
    var requiresPeerDomain: Bool { false }
    var offersDialback: Bool { false }
    func dialbackIdentity(_ domain: String) -> Identity? { nil }
    var otherDomains: Set<String> { [] }
    /// c2s: the router stamps every stanza's `from` from the session, so nothing to check.
    func admit(_ stanza: XMLElement, on link: Link) throws(StreamError) {}
}

/// A client-to-server stream (RFC 6120 with `jabber:client`): SCRAM-SHA-256 and -SHA-1
/// always, PLAIN only on TLS and when enabled, EXTERNAL with a verified client certificate;
/// then resource binding, the optional legacy session, and XEP-0198 stream management.
struct C2SRole: XMPPStreamRole, Equatable {
    typealias Identity = BareJID
    typealias Link = Session

    var tlsRequired: Bool
    var tlsAvailable: Bool
    var plainEnabled: Bool

    init(tlsRequired: Bool, tlsAvailable: Bool, plainEnabled: Bool) {
        self.tlsRequired = tlsRequired
        self.tlsAvailable = tlsAvailable
        self.plainEnabled = plainEnabled
    }

    var contentNamespace: String { Namespace.client }
    var bindsResources: Bool { true }

    func mechanisms(secure: Bool, clientCertificate: Bool) -> [String] {
        var result = SCRAMHash.allCases.map(\.rawValue)
        if secure, plainEnabled { result.append("PLAIN") }
        if secure, clientCertificate { result.append("EXTERNAL") }
        return result
    }

    func featuresAfterAuthentication() -> [XMLElement] {
        [
            XMLElement("bind", namespace: Namespace.bind),
            XMLElement("session", namespace: Namespace.session, children: [.element(XMLElement("optional", namespace: Namespace.session))]),
            XMLElement("sm", namespace: Namespace.streamManagement),
            XMLElement("csi", namespace: Namespace.clientState),
        ]
    }
}
