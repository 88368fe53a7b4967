internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraReadings
internal import AgoraXMPP

/// The XEP-0060 requests the live service answers, on its own address: subscribe,
/// unsubscribe, subscriptions, subscription options and item retrieval (§6–§7), plus
/// XEP-0030 discovery of its nodes. Nodes are the gateway's sensors: nobody creates,
/// configures, deletes or publishes to them over XMPP.
///
///     set <pubsub><subscribe node='sensors/ID' jid='me'/>[<options><x/></options>]</pubsub>
///     set <pubsub><unsubscribe node jid [subid]/></pubsub>
///     get <pubsub><subscriptions [node]/></pubsub>
///     get|set <pubsub><options node jid>[<x type='submit'/>]</options></pubsub>
///     get <pubsub><items node [max_items]>[<item id/>…]</items>[RSM after/max]</pubsub>
enum PubSubIQ {
    static let errors = "http://jabber.org/protocol/pubsub#errors"
    static let optionsForm = "http://jabber.org/protocol/pubsub#subscribe_options"
    static let proofsField = "agora#proofs"
    static let features = ["subscribe", "retrieve-items", "retrieve-subscriptions", "subscription-options"]
    static let maxItems = 100

    static func router(for service: LiveService) -> IQRouter {
        var iq = IQRouter()
        iq.register(Namespace.ping, onEventLoop: true, forRemote: true) { _ in .result(nil) }
        // Live subscriptions are for this gateway's accounts (items are delivered to local
        // sessions only); others may see what the service is.
        iq.register(Namespace.discoInfo, forRemote: true) { request in discoInfo(request, service) }
        iq.register(Namespace.discoItems, forRemote: true) { request in discoItems(request, service) }
        iq.register(LiveService.pubsubNamespace) { request in
            // The operation is the first child; <options/> may follow a <subscribe/>.
            guard let operation = request.payload.firstElement else {
                return .error(.badRequest("a pubsub request names its operation"))
            }
            return service.context.later { try await answer(operation, request, service) }
        }
        iq.register(LiveService.pubsubNamespace + "#owner") { _ in
            .error(StanzaError(.forbidden, "nodes follow the gateway's sensors; they are not configured over XMPP"))
        }
        return iq
    }

    static func answer(_ operation: XMLElement, _ request: IQRequest, _ service: LiveService) async throws -> XMLElement? {
        switch (operation.name, request.isSet) {
        case ("subscribe", true): return try await subscribe(operation, options: request.payload.child("options", namespace: LiveService.pubsubNamespace), request, service)
        case ("unsubscribe", true): return try await unsubscribe(operation, request, service)
        case ("subscriptions", false): return subscriptions(operation, request, service)
        case ("options", _): return try await options(operation, request, service)
        case ("items", false): return try items(operation, request, service)
        case ("publish", _), ("retract", _), ("create", _), ("delete", _), ("purge", _), ("configure", _):
            throw StanzaError(.forbidden, "only the gateway publishes to its sensors' nodes, and nodes follow its sensors",
                              applicationCondition: XMLElement("publish-not-allowed", namespace: errors))
        default:
            throw StanzaError(.featureNotImplemented, "pubsub \(operation.name.prefix(40)) is not supported here",
                              applicationCondition: XMLElement("unsupported", namespace: errors, attributes: [.init("feature", String(operation.name.prefix(40)))]))
        }
    }

    // MARK: Subscriptions

    static func subscribe(_ element: XMLElement, options: XMLElement?, _ request: IQRequest, _ service: LiveService) async throws -> XMLElement? {
        do {
            let sensor = try node(element, service)
            try ownJID(element, request)
            let proofs = try proofsOption(options?.child("x", namespace: DataForm.namespace), current: false)
            let windows = try service.context.store.read { txn in
                try AccessPolicy.readableWindows(request.account, sensor: sensor, in: txn, tables: service.context.store.tables)
            }
            if case .denied(let denial) = windows { throw denial }
            guard windows.hasFuture(after: Timestamp.now().seconds) else {
                throw StanzaError(.forbidden, "\(request.account) has no current or future purchase of sensor \(sensor); buy a window first (urn:agora:market:1 purchase), then subscribe")
            }
            let existing = service.subscriptions.subscription(of: request.account, to: sensor)
            if existing == nil, service.subscriptions.subscriptions(of: request.account).count >= service.configuration.maxSubscriptions {
                throw StanzaError(.notAllowed, "at most \(service.configuration.maxSubscriptions) live subscriptions per account; unsubscribe from one first",
                                  applicationCondition: XMLElement("too-many-subscriptions", namespace: errors))
            }
            // A new subscription, or the same one again (its options changed when given).
            var subscription = existing ?? LiveSubscription(sensor: sensor, subscriber: request.account, subid: LiveSubscriptions.newID(), proofs: proofs)
            if options != nil { subscription.proofs = proofs }
            try await service.subscriptions.put(subscription)
            return pubsub(state(subscription))
        } catch {
            service.countRefusal()
            throw error
        }
    }

    static func unsubscribe(_ element: XMLElement, _ request: IQRequest, _ service: LiveService) async throws -> XMLElement? {
        let sensor = try node(element, service, mustExist: false)
        try ownJID(element, request)
        guard let existing = service.subscriptions.subscription(of: request.account, to: sensor),
              element[attribute: "subid"].map({ $0 == existing.subid }) ?? true else {
            throw StanzaError(.unexpectedRequest, "\(request.account) is not subscribed to \(LiveService.node(sensor))",
                              applicationCondition: XMLElement("not-subscribed", namespace: errors))
        }
        try await service.subscriptions.remove(sensor, request.account)
        return nil
    }

    static func subscriptions(_ element: XMLElement, _ request: IQRequest, _ service: LiveService) -> XMLElement? {
        var list = XMLElement("subscriptions", namespace: LiveService.pubsubNamespace)
        let node = element[attribute: "node"]
        for subscription in service.subscriptions.subscriptions(of: request.account) where node == nil || node == LiveService.node(subscription.sensor) {
            list.append(state(subscription))
        }
        if let node { list[attribute: "node"] = node }
        return pubsub(list)
    }

    static func options(_ element: XMLElement, _ request: IQRequest, _ service: LiveService) async throws -> XMLElement? {
        let sensor = try node(element, service, mustExist: false)
        try ownJID(element, request)
        guard var subscription = service.subscriptions.subscription(of: request.account, to: sensor) else {
            throw StanzaError(.unexpectedRequest, "\(request.account) is not subscribed to \(LiveService.node(sensor))",
                              applicationCondition: XMLElement("not-subscribed", namespace: errors))
        }
        guard request.isSet else {
            var options = XMLElement("options", namespace: LiveService.pubsubNamespace, attributes: [
                .init("node", LiveService.node(sensor)), .init("jid", request.account.description), .init("subid", subscription.subid),
            ])
            options.append(DataForm.form(title: "Live readings", instructions: "Set agora#proofs to receive proofs with every item", fields: [
                .init(name: "FORM_TYPE", type: "hidden", label: "", value: optionsForm),
                .init(name: proofsField, type: "boolean", label: "Proofs with every item", value: subscription.proofs ? "true" : "false"),
            ]))
            return pubsub(options)
        }
        subscription.proofs = try proofsOption(element.child("x", namespace: DataForm.namespace), current: subscription.proofs)
        try await service.subscriptions.put(subscription)
        return nil
    }

    // MARK: Items

    /// Committed batches the requester may read: by id, after an id (RSM), or the newest.
    static func items(_ element: XMLElement, _ request: IQRequest, _ service: LiveService) throws -> XMLElement? {
        let sensor = try node(element, service)
        let windows = try service.context.store.read { txn in
            try AccessPolicy.readableWindows(request.account, sensor: sensor, in: txn, tables: service.context.store.tables)
        }
        if case .denied(let denial) = windows { throw denial }
        if case .windows(let bought) = windows, bought.isEmpty {
            throw StanzaError(.forbidden, "\(request.account) has bought no window of sensor \(sensor); buy one first (urn:agora:market:1 purchase)")
        }
        let ids = try element.elements.filter { $0.name == "item" }.map { item throws(StanzaError) -> UInt64 in
            guard let id = item[attribute: "id"].flatMap({ UInt64($0) }) else { throw StanzaError(.badRequest, "item ids are ledger indexes") }
            return id
        }
        let set = try ResultSet(in: request.payload, defaultMax: 10, cap: maxItems)
        let selection: ReadingsQuery.BatchSelection
        if !ids.isEmpty {
            guard ids.count <= maxItems else { throw StanzaError(.policyViolation, "at most \(maxItems) items per request") }
            selection = .commits(Set(ids))
        } else if let after = set.after {
            guard let id = UInt64(after) else { throw StanzaError(.badRequest, "<after/> is an item id") }
            selection = .after(id, max: set.max)
        } else {
            let count = try element[attribute: "max_items"].map { text throws(StanzaError) -> Int in
                guard let value = Int(text), value > 0 else { throw StanzaError(.badRequest, "max_items must be a positive integer") }
                return min(value, maxItems)
            } ?? 10
            selection = .newest(count)
        }
        let query = ReadingsQuery(store: service.context.store, ledger: service.context.ledger)
        let proofs = service.subscriptions.subscription(of: request.account, to: sensor)?.proofs ?? false
        var list = XMLElement("items", namespace: LiveService.pubsubNamespace, attributes: [.init("node", LiveService.node(sensor))])
        var found: [String] = []
        // Only batches with a reading time inside a bought window are loaded at all.
        let spanned: (Int64, Int64) -> Bool = { first, last in
            guard case .windows(let bought) = windows else { return true }
            let from = first.floorDivided(by: 1_000_000_000), to = last.floorDivided(by: 1_000_000_000)
            return bought.contains { $0.lowerBound <= to && from < $0.upperBound }
        }
        for batch in try query.batches(of: sensor, selection, spanned: spanned) {
            let source = proofs ? try proven(batch, service) : batch.items
            let visible = source.filter { windows.allows(nanoseconds: $0.reading.time) }
            guard !visible.isEmpty else { continue }
            let receipt = proofs && visible.first?.path != nil ? try? service.context.store.read { try service.context.ledger.receipt(for: batch.commit, in: $0) } : nil
            list.append(LiveService.item(batch, visible, receipt: receipt, namespace: LiveService.pubsubNamespace))
            found.append(String(batch.commit))
        }
        var reply = pubsub(list)
        if ids.isEmpty { reply.append(ResultSet.page(first: found.first, last: found.last, count: nil)) }
        return reply
    }

    /// The batch with audit paths when it is whole in the store (not pruned), else without.
    static func proven(_ batch: CommittedBatch, _ service: LiveService) throws -> [ReadingsPage.Item] {
        let count = try service.context.store.read { txn -> Int? in
            guard case .readingsCommit(let commit) = try LedgerEntry(decoding: try service.context.ledger.entry(at: batch.commit, in: txn)).body else { return nil }
            return commit.count
        }
        return count == batch.items.count ? batch.withProofs() : batch.items
    }

    // MARK: Discovery

    static func discoInfo(_ request: IQRequest, _ service: LiveService) -> IQReply {
        guard !request.isSet else { return .error(.badRequest("disco#info is get only")) }
        @Sendable func feature(_ name: String) -> XMLElement { XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", name)]) }
        if let node = request.payload[attribute: "node"] {
            return service.context.later {
                _ = try Self.node(node: node, service)
                return XMLElement("query", namespace: Namespace.discoInfo, attributes: [.init("node", node)], children: [
                    .element(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [.init("category", "pubsub"), .init("type", "leaf")])),
                    .element(feature(LiveService.pubsubNamespace)),
                ])
            }
        }
        var query = XMLElement("query", namespace: Namespace.discoInfo)
        query.append(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [
            .init("category", "pubsub"), .init("type", "service"), .init("name", "Live sensor readings"),
        ]))
        for name in [Namespace.discoInfo, Namespace.discoItems, LiveService.pubsubNamespace] { query.append(feature(name)) }
        for name in features { query.append(feature(LiveService.pubsubNamespace + "#" + name)) }
        return .result(query)
    }

    static func discoItems(_ request: IQRequest, _ service: LiveService) -> IQReply {
        guard !request.isSet else { return .error(.badRequest("disco#items is get only")) }
        if let node = request.payload[attribute: "node"] {
            // A leaf node has no child nodes; its items are retrieved with <items/>.
            return service.context.later {
                _ = try Self.node(node: node, service)
                return XMLElement("query", namespace: Namespace.discoItems, attributes: [.init("node", node)])
            }
        }
        return service.context.later {
            let sensors = try service.context.market.read { try $0.sensors() }
            var query = XMLElement("query", namespace: Namespace.discoItems)
            for sensor in sensors where !sensor.frozen {
                query.append(XMLElement("item", namespace: Namespace.discoItems, attributes: [
                    .init("jid", service.address), .init("node", LiveService.node(sensor.id)), .init("name", sensor.registration.name),
                ]))
            }
            return query
        }
    }

    // MARK: Helpers

    static func pubsub(_ child: XMLElement) -> XMLElement {
        XMLElement("pubsub", namespace: LiveService.pubsubNamespace, children: [.element(child)])
    }

    static func state(_ subscription: LiveSubscription) -> XMLElement {
        XMLElement("subscription", namespace: LiveService.pubsubNamespace, attributes: [
            .init("node", LiveService.node(subscription.sensor)), .init("jid", subscription.subscriber.description),
            .init("subid", subscription.subid), .init("subscription", "subscribed"),
        ])
    }

    static func node(_ element: XMLElement, _ service: LiveService, mustExist: Bool = true) throws -> SensorID {
        guard let node = element[attribute: "node"] else {
            throw StanzaError(.badRequest, "name the node (sensors/<id>)", applicationCondition: XMLElement("nodeid-required", namespace: errors))
        }
        return mustExist ? try Self.node(node: node, service) : try sensorID(node)
    }

    static func sensorID(_ node: String) throws -> SensorID {
        guard node.hasPrefix(LiveService.nodePrefix), let sensor = try? SensorID(String(node.dropFirst(LiveService.nodePrefix.count))) else {
            throw StanzaError.itemNotFound("no node \(node.prefix(80)); nodes are sensors/<id>")
        }
        return sensor
    }

    /// The sensor of a node that exists: registered and not frozen.
    static func node(node: String, _ service: LiveService) throws -> SensorID {
        let sensor = try sensorID(node)
        guard let record = try service.context.market.read({ try $0.sensor(sensor) }), !record.frozen else {
            throw StanzaError.itemNotFound("no node \(node.prefix(80)): no such sensor, or it is frozen")
        }
        return sensor
    }

    /// XEP-0060 §6.1.3.1: one subscribes oneself only (bare or full JID).
    static func ownJID(_ element: XMLElement, _ request: IQRequest) throws {
        guard let text = element[attribute: "jid"], let jid = try? JID(parsing: text), jid.bare == request.account else {
            throw StanzaError(.badRequest, "'jid' must be your own address", applicationCondition: XMLElement("invalid-jid", namespace: errors))
        }
    }

    static func proofsOption(_ form: XMLElement?, current: Bool) throws -> Bool {
        guard let form else { return current }
        let values = try DataForm.submitted(form)
        guard let value = values[proofsField] else { return current }
        guard ["true", "false", "1", "0"].contains(value) else { throw StanzaError(.badRequest, "\(proofsField) is a boolean") }
        return IQPayload.isTrue(value)
    }
}
