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

    public init(address: String, name: String, iq: IQRouter, sessionAvailable: @escaping @Sendable (Session) async -> Void = { _ in }) {
        self.address = address
        self.name = name
        self.iq = iq
        self.sessionAvailable = sessionAvailable
    }
}
