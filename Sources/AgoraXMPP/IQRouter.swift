public import AgoraCore

/// An IQ addressed to the server (or to an account's bare JID, handled on its behalf).
public struct IQRequest: Sendable {
    public let stanza: XMLElement
    /// The IQ's single payload element; its namespace chose the handler.
    public let payload: XMLElement
    /// The requester's full JID, as stamped by the server.
    public let from: JID
    /// The bare account of the requester.
    public let account: BareJID
    public let to: JID
    public let isSet: Bool
}

/// What a handler answers. Cheap answers are immediate, so a ping costs no task and no
/// allocation beyond the reply; anything that touches the writer or waits is `later`.
public enum IQReply: Sendable {
    case result(XMLElement?)
    case error(StanzaError)
    case later(@Sendable () async -> IQReply)
    /// The result now, then more stanzas to the requester (XEP-0323 read-outs: `accepted`,
    /// then `fields` messages). `send` stamps `from` (the IQ's `to`) and `to` (the requester's
    /// full JID) and returns false once the session is gone; the follow-up starts only after
    /// the result is on its way, so the client sees them in that order.
    case resultThen(XMLElement?, followUp: @Sendable (_ send: @escaping @Sendable (XMLElement) -> Bool) async -> Void)
}

public typealias IQHandler = @Sendable (IQRequest) -> IQReply

/// IQ handlers by payload namespace: the one place every service plugs into (RFC 6120
/// §8.2.3: an unknown namespace is answered `service-unavailable`). Built before the server
/// starts and immutable afterwards, so dispatch needs no lock.
public struct IQRouter: Sendable {
    public struct Route: Sendable {
        public let handler: IQHandler
        /// Also answer IQs sent to an account's bare JID (e.g. the roster), not only to the domain.
        public let forAccounts: Bool
        /// With `forAccounts`: IQs to any local account's bare JID, not only the requester's own
        /// (a contact's personal eventing nodes); the handler decides who may read what.
        public let forOtherAccounts: Bool
        /// The handler touches nothing but memory, so it is called on the event loop; every
        /// other handler is called in a job on the server's work, because it reads the store.
        public let onEventLoop: Bool
        /// Also answer senders of other domains (over federation). Off by default: what keeps
        /// an account's own data (roster, archive, private storage, block list, PEP) or acts
        /// for operators is for this server's accounts only, or any peer could make the
        /// gateway store data under JIDs it invents.
        public let forRemote: Bool
    }

    /// A XEP-0030 node a service answers for: its items (disco#items with `node`), and the
    /// identity and features of nodes it names (disco#info with `node`; nil: not one of its).
    public struct DiscoNode: Sendable {
        public let items: @Sendable (IQRequest) -> [XMLElement]
        public let info: @Sendable (IQRequest, _ node: String) -> [XMLElement]?
        public init(items: @escaping @Sendable (IQRequest) -> [XMLElement], info: @escaping @Sendable (IQRequest, String) -> [XMLElement]?) {
            self.items = items
            self.info = info
        }
    }

    private(set) var routes: [String: Route] = [:]
    private(set) var discoNodes: [String: DiscoNode] = [:]
    /// disco#info features beyond the registered namespaces (e.g. `urn:xmpp:sm:3`).
    public private(set) var extraFeatures: [String] = []
    /// XEP-0128 extended information: data forms (`type='result'`, a hidden `FORM_TYPE`)
    /// the server's disco#info carries after its features.
    public private(set) var discoForms: [XMLElement] = []

    public init() {}

    /// - Parameter onEventLoop: true only for a handler that never reads the store nor waits
    ///   (ping, version): it is then answered without a task hop.
    /// - Parameter forRemote: also for senders of other domains (see `Route.forRemote`).
    public mutating func register(_ namespace: String, forAccounts: Bool = false, forOtherAccounts: Bool = false, onEventLoop: Bool = false,
                                  forRemote: Bool = false, handler: @escaping IQHandler) {
        precondition(routes[namespace] == nil, "two handlers for \(namespace)")
        routes[namespace] = Route(handler: handler, forAccounts: forAccounts, forOtherAccounts: forOtherAccounts, onEventLoop: onEventLoop,
                                  forRemote: forRemote)
    }

    public mutating func advertise(_ feature: String) { extraFeatures.append(feature) }

    /// Adds a XEP-0128 form to the server's disco#info.
    public mutating func extendDiscoInfo(with form: XMLElement) { discoForms.append(form) }

    /// Answers disco#items for `node`, and disco#info for the nodes `disco.info` recognises.
    public mutating func registerDisco(node: String, _ disco: DiscoNode) {
        precondition(discoNodes[node] == nil, "two disco providers for \(node)")
        discoNodes[node] = disco
    }

    func route(for namespace: String) -> Route? { routes[namespace] }

    /// Every feature disco#info lists, sorted.
    public var features: [String] { Array(Set(routes.keys).union(extraFeatures)).sorted() }
}

/// A request a peer server makes in its own name (its domain, no account): given the IQ's
/// payload and the peer's authenticated domain, returns the result's payload or throws a
/// `StanzaError`. Runs in a job, off the event loop.
public typealias ServerRequestHandler = @Sendable (_ payload: XMLElement, _ peer: String) async throws -> XMLElement?
