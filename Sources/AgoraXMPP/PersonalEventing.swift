internal import AgoraCore
internal import AgoraStore

/// XEP-0163 personal eventing (PEP), the part clients use for their own data: publish to a
/// node of one's own account (with XEP-0223 publish-options, as XEP-0402 bookmarks do),
/// retrieve, retract, delete; every change is pushed to the account's available resources.
/// Others may read a node as its access model says (`open`; `presence`: contacts with a
/// presence subscription to the owner; `whitelist`: nobody).
///
/// Not here: notifications to contacts (that needs XEP-0115 capabilities and `+notify`
/// filtering), subscriptions to other accounts' nodes, node configuration forms.
enum PersonalEventing {
    static let pubsub = "http://jabber.org/protocol/pubsub"
    static let owner = pubsub + "#owner"
    static let event = pubsub + "#event"
    static let errors = pubsub + "#errors"
    static let publishOptions = pubsub + "#publish-options"
    /// What the account's disco#info says it offers (Conversations looks for publish-options).
    static let features = [pubsub + "#publish", pubsub + "#publish-options", pubsub + "#retrieve-items", pubsub + "#retract-items",
                           pubsub + "#delete-nodes", pubsub + "#access-presence", pubsub + "#access-whitelist", pubsub + "#access-open",
                           pubsub + "#persistent-items"]
    /// Items one retrieval answers at most.
    static let maxRetrieved = 256

    static func register(into iq: inout IQRouter, store: Store, router: @escaping @Sendable () -> StanzaRouter) {
        let pep = PEPStore(store: store)
        iq.register(pubsub, forAccounts: true, forOtherAccounts: true) { request in
            guard let operation = request.payload.firstElement else { return .error(.badRequest("a pubsub request names its operation")) }
            let owner = request.to.bare ?? request.account
            let isOwner = owner == request.account
            switch (operation.name, request.isSet) {
            case ("items", false):
                return retrieve(operation, of: owner, for: request.account, pep: pep, router: router())
            case ("publish", true), ("retract", true):
                guard isOwner else { return .error(.forbidden("only an account publishes to its own nodes")) }
                return operation.name == "publish"
                    ? publish(operation, options: request.payload.child("publish-options", namespace: pubsub), of: owner, pep: pep, router: router())
                    : retract(operation, of: owner, pep: pep, router: router())
            default:
                return .error(StanzaError(.featureNotImplemented, "personal eventing here publishes, retrieves and retracts items",
                                          applicationCondition: XMLElement("unsupported", namespace: errors, attributes: [.init("feature", operation.name)])))
            }
        }
        iq.register(owner, forAccounts: true) { request in
            guard let operation = request.payload.firstElement, operation.name == "delete", request.isSet,
                  let node = node(of: operation) else {
                return .error(StanzaError(.featureNotImplemented, "nodes are deleted here, not configured",
                                          applicationCondition: XMLElement("unsupported", namespace: errors, attributes: [.init("feature", "config-node")])))
            }
            let account = request.account, router = router()
            return .later {
                do {
                    guard try await pep.delete(account, node) else { return .error(.itemNotFound("no such node")) }
                    notify(account, router: router, XMLElement("delete", namespace: event, attributes: [.init("node", node)]))
                    return .result(nil)
                } catch {
                    return .error(StanzaError(.internalServerError, "the node could not be deleted"))
                }
            }
        }
    }

    /// A node name: 1…1023 bytes, no control characters.
    static func node(of element: XMLElement) -> String? {
        guard let node = element[attribute: "node"], !node.isEmpty, node.utf8.count <= 1023,
              node.unicodeScalars.allSatisfy({ $0.value >= 0x20 }) else { return nil }
        return node
    }

    private static func retrieve(_ operation: XMLElement, of owner: BareJID, for reader: BareJID, pep: PEPStore, router: StanzaRouter) -> IQReply {
        guard let node = node(of: operation) else { return .error(.badRequest("name the node")) }
        let ids = operation.elements.filter { $0.name == "item" }.compactMap { $0[attribute: "id"] }
        let newest = operation[attribute: "max_items"].flatMap(Int.init)
        return .later {
            do {
                guard let configuration = try pep.configuration(owner, node) else { return .error(.itemNotFound("no such node")) }
                if owner != reader {
                    let allowed: Bool
                    switch configuration.accessModel {
                    case .open: allowed = true
                    case .presence: allowed = router.roster.item(of: owner, contact: reader)?.subscription.hasFrom == true
                    case .whitelist: allowed = false
                    }
                    guard allowed else {
                        return .error(StanzaError(.notAuthorized, "this node is not open to you",
                                                  applicationCondition: XMLElement(configuration.accessModel == .presence ? "presence-subscription-required" : "closed-node",
                                                                                   namespace: errors)))
                    }
                }
                var items = try pep.items(owner, node, ids: ids.isEmpty ? nil : ids)
                items = Array(items.suffix(min(max(newest ?? maxRetrieved, 0), maxRetrieved)))
                let list = XMLElement("items", namespace: pubsub, attributes: [.init("node", node)], children: items.reversed().map { item in
                    .element(XMLElement("item", namespace: pubsub, attributes: [.init("id", item.id)], children: [.element(item.payload)]))
                })
                return .result(XMLElement("pubsub", namespace: pubsub, children: [.element(list)]))
            } catch {
                return .error(StanzaError(.internalServerError, "the node could not be read"))
            }
        }
    }

    private static func publish(_ operation: XMLElement, options: XMLElement?, of owner: BareJID, pep: PEPStore, router: StanzaRouter) -> IQReply {
        guard let node = node(of: operation) else { return .error(.badRequest("name the node")) }
        let items = operation.elements.filter { $0.name == "item" }
        guard items.count == 1, let item = items.first, let payload = item.firstElement, item.elements.dropFirst().first(where: { _ in true }) == nil else {
            return .error(StanzaError(.badRequest, "publish one item with one payload", applicationCondition: XMLElement("invalid-payload", namespace: errors)))
        }
        let id = item[attribute: "id"].flatMap { $0.isEmpty || $0.utf8.count > 1023 ? nil : $0 } ?? SCRAMServer.randomNonce()
        let configuration: PEPStore.Options?
        do { configuration = try publishOptions(options) } catch { return .error(error) }
        return .later {
            do {
                _ = try await pep.publish(owner, node, id: id, payload: payload, options: configuration)
                notify(owner, router: router, XMLElement("items", namespace: event, attributes: [.init("node", node)], children: [
                    .element(XMLElement("item", namespace: event, attributes: [.init("id", id)], children: [.element(payload)])),
                ]))
                return .result(XMLElement("pubsub", namespace: pubsub, children: [.element(XMLElement("publish", namespace: pubsub, attributes: [.init("node", node)],
                    children: [.element(XMLElement("item", namespace: pubsub, attributes: [.init("id", id)]))]))]))
            } catch let refusal as PEPStore.Refusal {
                return .error(refusal.error)
            } catch {
                return .error(StanzaError(.internalServerError, "the item could not be stored"))
            }
        }
    }

    /// XEP-0223 publish-options: the access model and how many items the node keeps.
    static func publishOptions(_ options: XMLElement?) throws(StanzaError) -> PEPStore.Options? {
        guard let form = options?.child("x", namespace: "jabber:x:data") else { return nil }
        var configuration = PEPStore.Options()
        for field in form.elements where field.name == "field" {
            let value = field.child("value", namespace: "jabber:x:data")?.text ?? ""
            switch field[attribute: "var"] ?? "" {
            case "FORM_TYPE":
                guard value == publishOptions else { throw .badRequest("publish-options take a \(publishOptions) form") }
            case "pubsub#access_model":
                guard let model = PEPStore.AccessModel(rawValue: value) else {
                    throw StanzaError(.conflict, "access model \(value.prefix(20)) is not offered (open, presence, whitelist)",
                                      applicationCondition: XMLElement("precondition-not-met", namespace: errors))
                }
                configuration.accessModel = model
            case "pubsub#max_items":
                if value == "max" { configuration.maxItems = PEPStore.maxItemsPerNode } else {
                    guard let count = Int(value), (1...PEPStore.maxItemsPerNode).contains(count) else {
                        throw StanzaError(.conflict, "max_items is 1…\(PEPStore.maxItemsPerNode) or max",
                                          applicationCondition: XMLElement("precondition-not-met", namespace: errors))
                    }
                    configuration.maxItems = count
                }
            case "pubsub#persist_items":
                guard value == "1" || value == "true" else {
                    throw StanzaError(.conflict, "items here are always persistent", applicationCondition: XMLElement("precondition-not-met", namespace: errors))
                }
            default:
                break  // options this service has no setting for (notify_*, send_last_published_item): nothing to hold to
            }
        }
        return configuration
    }

    private static func retract(_ operation: XMLElement, of owner: BareJID, pep: PEPStore, router: StanzaRouter) -> IQReply {
        guard let node = node(of: operation), let id = operation.child("item", namespace: pubsub)?[attribute: "id"] else {
            return .error(.badRequest("name the node and the item"))
        }
        return .later {
            do {
                guard try await pep.retract(owner, node, id: id) else { return .error(.itemNotFound("no such item")) }
                notify(owner, router: router, XMLElement("items", namespace: event, attributes: [.init("node", node)], children: [
                    .element(XMLElement("retract", namespace: event, attributes: [.init("id", id)])),
                ]))
                return .result(nil)
            } catch {
                return .error(StanzaError(.internalServerError, "the item could not be removed"))
            }
        }
    }

    /// An event to every available resource of `owner`.
    static func notify(_ owner: BareJID, router: StanzaRouter, _ payload: XMLElement) {
        for session in router.sessions.sessions(of: owner) where session.isAvailable {
            session.deliver(XMLElement("message", namespace: Namespace.client, attributes: [
                .init("from", owner.description), .init("to", session.jidText), .init("type", "headline"),
            ], children: [.element(XMLElement("event", namespace: event, children: [.element(payload)]))]))
        }
    }
}
