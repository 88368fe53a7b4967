internal import AgoraCore

/// The IQ services every XMPP server answers: roster (RFC 6121 §2), XEP-0030 disco,
/// XEP-0199 ping and XEP-0092 version. Application namespaces are registered by
/// AgoraServices on the same `IQRouter` before the server starts.
enum CoreServices {
    static func register(into iq: inout IQRouter, router: @escaping @Sendable () -> StanzaRouter, name: String, version: String,
                         components: [XMPPComponent] = []) {
        iq.register(Namespace.ping, forAccounts: true, onEventLoop: true, forRemote: true) { _ in .result(nil) }

        iq.register(Namespace.version, onEventLoop: true, forRemote: true) { _ in
            .result(XMLElement("query", namespace: Namespace.version, children: [
                .element(XMLElement("name", namespace: Namespace.version, text: name)),
                .element(XMLElement("version", namespace: Namespace.version, text: version)),
            ]))
        }

        iq.register(Namespace.roster, forAccounts: true) { request in
            let router = router()
            return request.isSet ? setRoster(request, router: router) : getRoster(request, router: router)
        }
        MessageCarbons.register(into: &iq, router: router)
        BlockingCommand.register(into: &iq, router: router)
        ArchiveQuery.register(into: &iq, router: router)
        let discoNodes = iq.discoNodes
        iq.register(Namespace.discoItems, forAccounts: true, forRemote: true) { request in
            guard !request.isSet else { return .error(.badRequest("disco#items is get only")) }
            var query = XMLElement("query", namespace: Namespace.discoItems)
            if let node = request.payload[attribute: "node"] {
                guard request.to.localpart == nil, let provider = discoNodes[node] else { return .error(.itemNotFound("no such node")) }
                query[attribute: "node"] = node
                for item in provider.items(request) { query.append(item) }
            } else if request.to.localpart == nil {
                // XEP-0030 §4.2: the server's items are its services on addresses of their own.
                for component in components {
                    query.append(XMLElement("item", namespace: Namespace.discoItems, attributes: [
                        .init("jid", component.address), .init("name", component.name),
                    ]))
                }
            }
            return .result(query)
        }
        iq.advertise(Namespace.discoInfo)
        iq.advertise(Namespace.streamManagement)
        let features = iq.features
        let forms = iq.discoForms
        iq.register(Namespace.discoInfo, forAccounts: true, forRemote: true) { request in
            guard !request.isSet else { return .error(.badRequest("disco#info is get only")) }
            if let node = request.payload[attribute: "node"] {
                guard request.to.localpart == nil,
                      let children = discoNodes.values.lazy.compactMap({ $0.info(request, node) }).first else { return .error(.itemNotFound("no such node")) }
                return .result(XMLElement("query", namespace: Namespace.discoInfo, attributes: [.init("node", node)], children: children.map { .element($0) }))
            }
            var query = XMLElement("query", namespace: Namespace.discoInfo)
            if request.to.localpart == nil {
                query.append(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [
                    .init("category", "server"), .init("type", "im"), .init("name", name),
                ]))
                for feature in features {
                    query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", feature)]))
                }
                for form in forms { query.append(form) }
            } else {
                query.append(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [.init("category", "account"), .init("type", "registered")]))
                query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", Namespace.discoInfo)]))
                // The account's own services (XEP-0163 §6.1: a PEP service is an identity of the account).
                query.append(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [.init("category", "pubsub"), .init("type", "pep")]))
                for feature in PersonalEventing.features {
                    query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", feature)]))
                }
                if request.to.bare == request.account {
                    query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", ArchiveQuery.namespace)]))
                }
            }
            return .result(query)
        }

    }

    private static func getRoster(_ request: IQRequest, router: StanzaRouter) -> IQReply {
        router.sessions.session(request.from)?.state.withLockedValue { $0.requestedRoster = true }
        var query = XMLElement("query", namespace: Namespace.roster)
        for item in router.roster.items(of: request.account) where isVisible(item) { query.append(item.element) }
        return .result(query)
    }

    /// Items that exist only to remember an unanswered inbound request stay out of the roster.
    private static func isVisible(_ item: RosterItem) -> Bool {
        !(item.subscription == .none && !item.askSubscribe && item.pendingIn && item.name == nil && item.groups.isEmpty)
    }

    private static func setRoster(_ request: IQRequest, router: StanzaRouter) -> IQReply {
        let items = Array(request.payload.elements)
        guard items.count == 1, let item = items.first, item.name == "item" else { return .error(.badRequest("a roster set carries exactly one item")) }
        guard let text = item[attribute: "jid"], let jid = try? JID(parsing: text), let contact = jid.bare, jid.resource == nil else {
            return .error(StanzaError(.jidMalformed, "the item's jid must be a bare account address"))
        }
        guard contact != request.account else { return .error(StanzaError(.notAllowed, "an account cannot be its own contact")) }
        let name = item[attribute: "name"].flatMap { $0.isEmpty ? nil : String($0.prefix(256)) }
        let groups = item.elements.filter { $0.name == "group" }.map { String($0.text.prefix(256)) }
        guard groups.count <= 16, Set(groups).count == groups.count, !groups.contains("") else {
            return .error(.badRequest("groups must be distinct, non-empty, at most 16"))
        }
        let owner = request.account
        let remove = item[attribute: "subscription"] == "remove"
        return .later {
            do {
                if remove {
                    let previous = router.roster.item(of: owner, contact: contact)
                    _ = try await router.roster.update(owner: owner, contact: contact) { _ in nil }
                    PresenceRouter(router: router).push(nil, to: owner, removed: contact)
                    if let previous, previous.subscription != .none || previous.askSubscribe || previous.pendingIn {
                        // RFC 6121 §2.5.2: removing a contact cancels the subscriptions both ways.
                        _ = try await router.roster.update(owner: contact, contact: owner) { current in
                            current.map { with($0) { $0.subscription = .none; $0.askSubscribe = false; $0.pendingIn = false } }
                        }
                        PresenceRouter(router: router).push(router.roster.item(of: contact, contact: owner), to: contact)
                    }
                } else {
                    let stored = try await router.roster.update(owner: owner, contact: contact) { current in
                        with(current ?? RosterItem(contact: contact)) { $0.name = name; $0.groups = groups }
                    }
                    PresenceRouter(router: router).push(stored, to: owner)
                }
                return .result(nil)
            } catch let error as StanzaError {
                return .error(error)
            } catch {
                return .error(StanzaError(.internalServerError, "the roster could not be stored"))
            }
        }
    }
}
