internal import AgoraCore
internal import AgoraStore
internal import Logging
internal import NIOConcurrencyHelpers

/// Multi-user chat (XEP-0045) on its own address (`rooms.<domain>`): rooms that members
/// enter under a nickname, with affiliations, history, invitations and moderation.
///
/// Every room lives in memory behind one lock; a stanza changes the rooms it names under
/// that lock and collects what to send (`Outbox`), which goes out after the lock is
/// released. What must be durable (rooms, affiliations, subjects, history) is written in
/// the service's own lane, in the order it changed, and a client's request is answered only
/// once its change is stored. Routing runs on the sender's event loop; what reads the
/// account store (may this account create rooms?) runs in the sender's lane.
final class MUCService: Sendable {
    let address: String
    let configuration: MUCConfiguration
    let roomStore: MUCRoomStore
    let rooms: NIOLockedValueBox<[String: MUCRoom]>
    let metrics: XMPPMetrics
    let logger: Logger
    /// Where persistent rooms' messages are archived (XEP-0313), queried at the room's JID.
    let archive: MessageArchive?
    /// Durable writes, one at a time, in the order the rooms changed.
    let lane = SerialLane()
    private let routerBox = NIOLockedValueBox<StanzaRouter?>(nil)
    /// History waiting to be written (writes coalesce).
    private let history: CoalescingWriter<(room: String, entry: MUCHistoryEntry, keep: Int)>

    /// Stanzas to send once the lock is released.
    typealias Outbox = [(Session, XMLElement)]

    init(domain: String, configuration: MUCConfiguration, store: Store, archive: MessageArchive? = nil, metrics: XMPPMetrics, logger: Logger) throws {
        self.archive = archive
        self.address = configuration.address(for: domain)
        self.configuration = configuration
        self.roomStore = MUCRoomStore(store: store)
        self.metrics = metrics
        self.logger = logger
        self.history = CoalescingWriter()
        let loaded = try roomStore.load(historyLimit: configuration.maxHistory)
        rooms = NIOLockedValueBox(Dictionary(loaded.map { ($0.localpart, $0) }) { first, _ in first })
    }

    /// Called once by the server, with the router the service sends through.
    func attach(_ router: StanzaRouter) { routerBox.withLockedValue { $0 = router } }
    var router: StanzaRouter { routerBox.withLockedValue { $0! } }

    /// The service as a component of the server: its own disco, and everything addressed to
    /// a room or an occupant.
    var component: XMPPComponent {
        var iq = IQRouter()
        iq.register(Namespace.discoInfo, onEventLoop: true, forRemote: true) { [address] request in
            guard request.payload[attribute: "node"] == nil else { return .error(.itemNotFound("no such node")) }
            return .result(XMLElement("query", namespace: Namespace.discoInfo, children: [
                .element(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [
                    .init("category", "conference"), .init("type", "text"), .init("name", "Rooms of \(address)"),
                ])),
                .element(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", Namespace.discoInfo)])),
                .element(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", Namespace.discoItems)])),
                .element(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", MUCNamespace.muc)])),
            ]))
        }
        iq.register(Namespace.discoItems, onEventLoop: true, forRemote: true) { [self] request in
            .result(XMLElement("query", namespace: Namespace.discoItems, children: publicRooms().map { .element($0) }))
        }
        return XMPPComponent(address: address, name: "Rooms", iq: iq,
                             entities: { [self] stanza, to, session in route(stanza, to: to, from: session) },
                             sessionEnded: { [self] session in leaveAll(session) })
    }

    /// Rooms listed in disco#items: public, configured ones.
    private func publicRooms() -> [XMLElement] {
        rooms.withLockedValue { rooms in
            rooms.values.filter { $0.settings.isPublic && !$0.locked }.sorted { $0.localpart < $1.localpart }.map { room in
                XMLElement("item", namespace: Namespace.discoItems, attributes: [
                    .init("jid", "\(room.localpart)@\(address)"), .init("name", room.settings.name.isEmpty ? room.localpart : room.settings.name),
                ])
            }
        }
    }

    /// A stanza to a room (`room@service`) or an occupant (`room@service/nick`).
    func route(_ stanza: XMLElement, to: JID, from session: Session) -> XMLElement? {
        let replyable = stanza[attribute: "type"] != "error" && stanza[attribute: "type"] != "result"
        guard let room = to.localpart else {
            // The service itself takes IQs only (its router has them).
            return replyable && stanza.name == "message" ? StanzaError(.serviceUnavailable, "\(address) takes no messages; send them to a room").reply(to: stanza) : nil
        }
        switch stanza.name {
        case "presence": return presence(stanza, room: room, nick: to.resource, from: session)
        case "message": return message(stanza, room: room, nick: to.resource, from: session)
        case "iq":
            guard replyable else { return nil }
            if let nick = to.resource { return occupantIQ(stanza, room: room, nick: nick, from: session) }
            return iq(stanza, room: room, from: session)
        default: return nil
        }
    }

    /// An IQ to an occupant JID: a client's self-ping (XEP-0410) is answered by the room —
    /// a result while it is in under that nickname, `not-acceptable` once it is not, so it
    /// notices it was dropped; IQs are not relayed to other occupants.
    private func occupantIQ(_ stanza: XMLElement, room localpart: String, nick: String, from session: Session) -> XMLElement? {
        let joinedAs = rooms.withLockedValue { $0[localpart]?.occupant(of: session)?.nick }
        guard let joinedAs, MUCNick.key(joinedAs) == MUCNick.key(nick) else {
            return StanzaError(.notAcceptable, "you are not in this room under that nickname").reply(to: stanza)
        }
        guard stanza.child("ping", namespace: Namespace.ping) != nil else {
            return StanzaError(.serviceUnavailable, "occupants take no IQs through the room here").reply(to: stanza)
        }
        return result(stanza, nil)
    }

    func send(_ outbox: Outbox) {
        for (session, stanza) in outbox { session.deliver(stanza) }
    }

    func refused(_ reason: String) {
        metrics.record { $0.mucRefused[reason, default: 0] += 1 }
    }

    /// An occupant JID's text.
    func jid(_ room: String, _ nick: String? = nil) -> String {
        nick.map { "\(room)@\(address)/\($0)" } ?? "\(room)@\(address)"
    }

    // MARK: Durability

    /// Writes the room as it is now (or removes it when it is gone or temporary), in the
    /// lane; then `after`. Returns false when the lane is full or the server stops.
    /// - Parameter gone: the room was destroyed or emptied away: its archive goes too, before
    ///   anything of a new room of that name is written (the lane keeps the order), so a new
    ///   owner never reads the old room's messages.
    @discardableResult
    func persist(_ localpart: String, gone: Bool = false, then after: @escaping @Sendable ((any Error)?) -> Void = { _ in }) -> Bool {
        let started = lane.start({ [self] in
            do {
                if gone { try await archive?.remove(jid(localpart)) }
                let snapshot = rooms.withLockedValue { $0[localpart] }
                if let snapshot, snapshot.settings.persistent, !snapshot.locked {
                    try await roomStore.put(snapshot)
                } else {
                    try await roomStore.remove(localpart)
                }
                after(nil)
            } catch {
                logger.error("room not stored", metadata: ["room": "\(localpart)", "error": "\(error)"])
                after(error)
            }
        }, on: router.work)
        if !started { refused("lane") }
        return started
    }

    /// Queues a message for the room's durable history; writes coalesce.
    func persistHistory(_ room: String, _ entry: MUCHistoryEntry, keep: Int) {
        history.append([(room, entry, keep)], on: router.work) { [roomStore, logger] batch in
            do { try await roomStore.append(batch) } catch {
                logger.error("room history not stored", metadata: ["messages": "\(batch.count)", "error": "\(error)"])
            }
        }
    }
}
