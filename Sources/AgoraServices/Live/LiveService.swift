internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
public import AgoraReadings
internal import AgoraStore
public import AgoraXMPP
internal import Logging
public import ServiceLifecycle
internal import Synchronization

/// Live readings (XEP-0060): each batch the ingester commits is published, once durable, as
/// one item of its sensor's node `sensors/<id>` to the node's subscribers — all of it to the
/// owner and operators, and to a buyer only the readings inside the windows it bought.
///
/// The committer hands batches over (`committed`) without waiting; this service's task fans
/// them out, in order with sessions becoming available (`Event`). A subscriber's resources
/// that are caught up get them through a bounded per-session queue (`LiveOutbox`); an
/// account with none gets them kept (`LivePending`) until its next presence comes round.
/// Neither path can slow ingestion: the hand-over is bounded too, and what cannot be
/// delivered is dropped, counted, and left for the client to fetch (`urn:agora:readings:1`).
public final class LiveService: Service, Sendable {
    public static let pubsubNamespace = "http://jabber.org/protocol/pubsub"
    static let eventNamespace = "http://jabber.org/protocol/pubsub#event"
    static let liveNamespace = "urn:agora:live:1"
    static let nodePrefix = "sensors/"

    /// What the service did, for `/metrics`.
    public struct Counters: Sendable, Equatable {
        /// Batches published (that had a subscriber).
        public var published = 0
        /// Notifications handed to sessions, and kept for offline accounts.
        public var delivered = 0
        public var keptOffline = 0
        /// Dropped: from a slow session's queue, from an account's offline store, and batches
        /// the fan-out never saw because its hand-over queue was full.
        public var droppedQueue = 0
        public var droppedOffline = 0
        public var droppedHandOver = 0
        /// Subscribe requests refused (no window, quota, bad node or JID).
        public var refused = 0
    }

    public let address: String
    let context: IQContext
    let sessions: SessionRegistry
    let configuration: LiveConfiguration
    let subscriptions: LiveSubscriptions
    let pending: LivePending
    private let outboxes = Mutex<[ObjectIdentifier: (session: Session, outbox: LiveOutbox)]>([:])
    private let windowCache = Mutex<[WindowKey: CachedWindows]>([:])
    private let counts = Mutex(Counters())
    /// What the fan-out task works through, in order: committed batches, and sessions that
    /// became available (their kept items go out before any live one, so a session receives
    /// its items in commit order — what lets a client that loses its connection fetch
    /// everything after the newest reading it got, and miss nothing).
    enum Event: Sendable {
        case committed([CommittedBatch])
        case available(Session)
    }

    private let events: AsyncStream<Event>
    private let handOver: AsyncStream<Event>.Continuation
    /// Readings handed over and not yet fanned out (the hand-over's bound).
    private let waiting = Atomic<Int>(0)
    /// Sessions with an `available` event not yet handled: a client toggling its presence
    /// queues one event, not one a toggle.
    private let announced = Mutex<Set<ObjectIdentifier>>([])
    /// Sessions whose kept items went out: only they get live items; the others' wait in
    /// `live.pending` until their turn comes in the event order.
    private let ready = Mutex<[BareJID: [ObjectIdentifier: Session]]>([:])

    static let windowCacheLimit = 100_000

    private struct WindowKey: Hashable { let sensor: SensorID; let reader: BareJID }
    private struct CachedWindows { let generation: UInt64; let at: Int64; let windows: ReadableWindows }

    /// Readings waiting for the fan-out; beyond, new batches are dropped (and counted).
    static let handOverCapacity = 200_000

    public init(context: IQContext, sessions: SessionRegistry, domain: String, configuration: LiveConfiguration) throws {
        self.context = context
        self.sessions = sessions
        self.configuration = configuration
        self.address = configuration.address(for: domain)
        subscriptions = try LiveSubscriptions(store: context.store)
        pending = try LivePending(store: context.store, limit: configuration.offlineItems)
        (events, handOver) = AsyncStream.makeStream(of: Event.self)
    }

    public var counters: Counters { counts.withLock { $0 } }

    func countRefusal() { counts.withLock { $0.refused += 1 } }
    public var subscriptionCount: Int { subscriptions.count }

    /// For `ReadingsCommitter.onCommit`: called once `batches` are durable; never waits.
    public func committed(_ batches: [CommittedBatch]) {
        let readings = batches.reduce(0) { $0 + $1.items.count }
        guard waiting.add(readings, ordering: .relaxed).newValue <= Self.handOverCapacity else {
            waiting.subtract(readings, ordering: .relaxed)
            counts.withLock { $0.droppedHandOver += batches.count }
            return
        }
        handOver.yield(.committed(batches))
    }

    public func run() async throws {
        let handOver = handOver
        await withGracefulShutdownHandler {
            for await event in events {
                switch event {
                case .committed(let round):
                    await publish(round)
                    waiting.subtract(round.reduce(0) { $0 + $1.items.count }, ordering: .relaxed)
                case .available(let session):
                    await catchUp(session)
                }
            }
        } onGracefulShutdown: {
            handOver.finish()
        }
    }

    /// The component the XMPP server routes `address` to.
    public var component: XMPPComponent {
        XMPPComponent(address: address, name: "Live sensor readings", iq: PubSubIQ.router(for: self)) { [self] session in
            guard announced.withLock({ $0.insert(ObjectIdentifier(session)).inserted }) else { return }
            handOver.yield(.available(session))
        }
    }

    /// Hands what was kept for `session`'s account to it, then lets live items through.
    func catchUp(_ session: Session) async {
        announced.withLock { _ = $0.remove(ObjectIdentifier(session)) }
        pruneOutboxes()
        do { try await pending.deliver(to: session) } catch {
            context.logger.error("live items kept for an offline account were not delivered", metadata: ["error": "\(error)"])
        }
        if session.isAvailable { ready.withLock { $0[session.bare, default: [:]][ObjectIdentifier(session)] = session } }
    }

    /// The sessions of `account` that take live items now. One that went unavailable leaves
    /// the ready set here: when it comes back, its kept items go out before live ones again.
    private func readySessions(of account: BareJID) -> [Session] {
        ready.withLock { table in
            guard let sessions = table[account] else { return [] }
            let gone = sessions.filter { !$0.value.isAvailable }.map(\.key)
            for key in gone { table[account]?[key] = nil }
            if table[account]?.isEmpty == true { table[account] = nil }
            return sessions.values.filter { $0.isAvailable && $0.priority >= 0 }
        }
    }

    static func node(_ sensor: SensorID) -> String { nodePrefix + sensor.rawValue }

    // MARK: Fan-out

    func publish(_ round: [CommittedBatch]) async {
        let now = Timestamp.now().seconds
        let receipts = await self.receipts(for: round)
        var offline: [(account: BareJID, stanza: XMLElement)] = []
        var ended: [LiveSubscription] = []
        var delivered = 0, droppedQueue = 0, published = 0
        pruneOutboxes()
        for batch in round {
            let subscribers = subscriptions.subscribers(of: batch.sensor)
            guard !subscribers.isEmpty, let span = batch.span else { continue }
            published += 1
            // Purchases unreadable (a store error): this batch goes to nobody, and nobody's
            // subscription ends for it — an empty answer would read as "no window left".
            guard let access = windows(of: subscribers.map(\.subscriber), sensor: batch.sensor, now: now) else { continue }
            let proven = subscribers.contains(where: \.proofs) ? batch.withProofs() : []
            var whole: [Bool: [(XMLElement, ClosedRange<Int64>)]] = [:]
            for subscription in subscribers {
                let windows = access[subscription.subscriber] ?? .windows([])
                guard windows.hasFuture(after: now) else { ended.append(subscription); continue }
                let source = subscription.proofs ? proven : batch.items
                let visible = source.filter { windows.allows(nanoseconds: $0.reading.time) }
                guard !visible.isEmpty else { continue }
                let receipt = subscription.proofs ? receipts[batch.commit] : nil
                let stanzas: [(XMLElement, ClosedRange<Int64>)]
                if visible.count == source.count {
                    if whole[subscription.proofs] == nil { whole[subscription.proofs] = notifications(batch, visible, receipt: receipt) }
                    stanzas = whole[subscription.proofs]!
                } else {
                    stanzas = notifications(batch, visible, receipt: receipt)
                }
                let targets = readySessions(of: subscription.subscriber)
                if targets.isEmpty {
                    offline += stanzas.map { (subscription.subscriber, $0.0) }
                    continue
                }
                for (stanza, span) in stanzas {
                    let delivery = LiveDelivery(stanza: stanza, node: Self.node(batch.sensor), item: batch.commit, span: span)
                    for session in targets {
                        droppedQueue += outbox(for: session).offer(delivery, to: session, service: address)
                        delivered += 1
                    }
                }
            }
        }
        var droppedOffline = 0
        do { droppedOffline = try await pending.keep(offline) } catch {
            context.logger.error("live items for offline accounts were not kept", metadata: ["error": "\(error)", "live.items": "\(offline.count)"])
        }
        for subscription in ended { await end(subscription, reason: "its purchased windows are over") }
        counts.withLock {
            $0.published += published
            $0.delivered += delivered
            $0.keptOffline += offline.count
            $0.droppedQueue += droppedQueue
            $0.droppedOffline += droppedOffline
        }
    }

    /// Receipts of the batches some subscriber wants proofs of: a checkpoint is sealed once for
    /// the round if none covers its newest batch yet, so a receipt verifies at once.
    private func receipts(for round: [CommittedBatch]) async -> [UInt64: Receipt] {
        let wanted = round.filter { batch in subscriptions.subscribers(of: batch.sensor).contains(where: \.proofs) }
        guard let newest = wanted.map(\.commit).max() else { return [:] }
        do {
            _ = try await context.ledger.sealedReceipt(for: newest, through: context.store)
            return try context.store.read { txn in
                var receipts: [UInt64: Receipt] = [:]
                for batch in wanted { receipts[batch.commit] = try context.ledger.receipt(for: batch.commit, in: txn) }
                return receipts
            }
        } catch {
            context.logger.error("live items go out without receipts", metadata: ["error": "\(error)"])
            return [:]
        }
    }

    /// The windows each reader may receive of `sensor`, cached until the sensor's purchases
    /// change (its generation) or a minute passes (roles change too, rarely).
    func windows(of readers: [BareJID], sensor: SensorID, now: Int64) -> [BareJID: ReadableWindows]? {
        let tables = context.store.tables
        do {
            return try context.store.read { txn in
                let generation = try MarketState(tables: tables, txn: txn).trustGeneration(of: sensor)
                var result: [BareJID: ReadableWindows] = [:]
                for reader in readers {
                    let key = WindowKey(sensor: sensor, reader: reader)
                    if let cached = windowCache.withLock({ $0[key] }), cached.generation == generation, now - cached.at < 60, now >= cached.at {
                        result[reader] = cached.windows
                        continue
                    }
                    let windows = try AccessPolicy.readableWindows(reader, sensor: sensor, in: txn, tables: tables)
                    windowCache.withLock { cache in
                        // Entries live a minute: past a bound, start over rather than grow with every pair ever seen.
                        if cache.count >= Self.windowCacheLimit { cache.removeAll(keepingCapacity: true) }
                        cache[key] = CachedWindows(generation: generation, at: now, windows: windows)
                    }
                    result[reader] = windows
                }
                return result
            }
        } catch {
            context.logger.error("live delivery could not read purchases", metadata: ["error": "\(error)", "sensor.id": "\(sensor)"])
            return nil
        }
    }

    /// Forgets `subscription` and tells its available resources (XEP-0060 §12.6, as a
    /// subscription state notification).
    func end(_ subscription: LiveSubscription, reason: String) async {
        do { try await subscriptions.remove(subscription.sensor, subscription.subscriber) } catch {
            context.logger.error("a live subscription could not be ended", metadata: ["error": "\(error)"])
            return
        }
        context.logger.info("live subscription ended", metadata: [
            "sensor.id": "\(subscription.sensor)", "account": "\(subscription.subscriber)", "reason": "\(reason)",
        ])
        let notice = XMLElement("message", namespace: Namespace.client, attributes: [.init("from", address), .init("type", "headline")], children: [
            .element(XMLElement("event", namespace: Self.eventNamespace, children: [
                .element(XMLElement("subscription", namespace: Self.eventNamespace, attributes: [
                    .init("node", Self.node(subscription.sensor)), .init("jid", subscription.subscriber.description),
                    .init("subid", subscription.subid), .init("subscription", "none"),
                ])),
            ])),
        ])
        for session in sessions.sessions(of: subscription.subscriber) where session.isAvailable {
            var copy = notice
            copy[attribute: "to"] = session.jidText
            session.deliver(copy)
        }
    }

    /// Readings in one notification: a batch can hold thousands (a backlog the broker
    /// redelivers after a restart), and one stanza of them would pass what clients and the
    /// connection's buffer take. Larger batches go out in parts, each with the receipt.
    static let readingsPerPart = 500
    static let provenReadingsPerPart = 100

    /// `<message><event><items node><item id><readings…/></item></items></event></message>`,
    /// one per part of the batch, with the span of each part's reading times.
    func notifications(_ batch: CommittedBatch, _ items: [ReadingsPage.Item], receipt: Receipt?) -> [(XMLElement, ClosedRange<Int64>)] {
        let size = items.first?.path == nil ? Self.readingsPerPart : Self.provenReadingsPerPart
        let parts = stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
        return parts.enumerated().map { number, part in
            let item = Self.item(batch, part, receipt: receipt, namespace: Self.eventNamespace,
                                 part: parts.count > 1 ? (number + 1, parts.count) : nil)
            let message = XMLElement("message", namespace: Namespace.client, attributes: [.init("from", address), .init("type", "headline")], children: [
                .element(XMLElement("event", namespace: Self.eventNamespace, children: [
                    .element(XMLElement("items", namespace: Self.eventNamespace, attributes: [.init("node", Self.node(batch.sensor))], children: [
                        .element(item),
                    ])),
                ])),
            ])
            return (message, part.first!.reading.time...part.last!.reading.time)
        }
    }

    /// One item: its id is the batch's commit index, its payload a `readings:1` element.
    /// `part`: which of how many parts of the batch it carries (`part`, `parts` attributes).
    static func item(_ batch: CommittedBatch, _ items: some Collection<ReadingsPage.Item>, receipt: Receipt?, namespace: String,
                     part: (number: Int, of: Int)? = nil) -> XMLElement {
        var readings = XMLElement("readings", namespace: ReadingsIQ.namespace, attributes: [
            .init("sensor", batch.sensor.rawValue), .init("commit", String(batch.commit)),
        ])
        if let part { readings.attributes += [.init("part", String(part.number)), .init("parts", String(part.of))] }
        for item in items { readings.append(ReadingsIQ.element(item)) }
        if let receipt { readings.append(LedgerIQ.receiptElement(receipt)) }
        return XMLElement("item", namespace: namespace, attributes: [.init("id", String(batch.commit))], children: [.element(readings)])
    }

    private func outbox(for session: Session) -> LiveOutbox {
        outboxes.withLock { table in
            if let existing = table[ObjectIdentifier(session)] { return existing.outbox }
            let outbox = LiveOutbox(capacity: configuration.queueItems)
            table[ObjectIdentifier(session)] = (session, outbox)
            return outbox
        }
    }

    /// Forgets the queues of sessions that are no longer available (ended or went away).
    private func pruneOutboxes() {
        outboxes.withLock { table in table = table.filter { $0.value.session.isAvailable } }
        ready.withLock { table in
            table = table.compactMapValues { sessions in
                let left = sessions.filter { $0.value.isAvailable }
                return left.isEmpty ? nil : left
            }
        }
    }
}

extension CommittedBatch {
    /// The times (ns) of its first and last readings.
    var span: ClosedRange<Int64>? {
        guard let first = items.first?.reading.time, let last = items.last?.reading.time else { return nil }
        return first...last
    }
}
