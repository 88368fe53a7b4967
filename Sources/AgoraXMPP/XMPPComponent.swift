public import AgoraCore

/// A service on an address of its own under the server's domain (`pubsub.<domain>`,
/// `rooms.<domain>`): what XEP-0114 components are to Prosody, but in-process. IQs to the
/// address go to its own router, answered with the same admission and off-loop rules as
/// the server's; the domain's disco#items lists it.
public struct XMPPComponent: Sendable {
    /// The component's JID, a domain (e.g. `pubsub.gw.example`).
    public let address: String
    /// Its name in the domain's disco#items.
    public let name: String
    /// Its IQ handlers, its disco#info and disco#items among them.
    public let iq: IQRouter
    /// Called when a session sends its first available presence with a non-negative priority,
    /// after its offline messages: the moment to hand over what waited for the account.
    public let sessionAvailable: @Sendable (Session) async -> Void
    /// Messages, presence and IQs to the component's entities (`room@rooms.<domain>/nick`)
    /// and messages and presence to the component itself, called on the sender's event
    /// loop; returns an immediate reply. nil: the component has no entities and takes no
    /// messages (they are refused) nor presence (ignored).
    let entities: (@Sendable (XMLElement, JID, Session) -> XMLElement?)?
    /// Called when a session ends or sends unavailable presence: what it was in, it leaves.
    let sessionEnded: @Sendable (Session) -> Void

    public init(address: String, name: String, iq: IQRouter, sessionAvailable: @escaping @Sendable (Session) async -> Void = { _ in }) {
        self.init(address: address, name: name, iq: iq, sessionAvailable: sessionAvailable, entities: nil, sessionEnded: { _ in })
    }

    init(address: String, name: String, iq: IQRouter, sessionAvailable: @escaping @Sendable (Session) async -> Void = { _ in },
         entities: (@Sendable (XMLElement, JID, Session) -> XMLElement?)?, sessionEnded: @escaping @Sendable (Session) -> Void) {
        self.address = address
        self.name = name
        self.iq = iq
        self.sessionAvailable = sessionAvailable
        self.entities = entities
        self.sessionEnded = sessionEnded
    }
}
