internal import AgoraCore

/// XEP-0191's IQs: the block list (get), `<block/>` and `<unblock/>` (set), each change
/// durable before its result and pushed to every resource of the account that asked for
/// the list. What a block list stops is decided in `StanzaRouter.route`.
enum BlockingCommand {
    static let namespace = "urn:xmpp:blocking"
    static let errors = "urn:xmpp:blocking:errors"
    /// Items one request may name.
    static let maxItemsPerRequest = 100

    static func register(into iq: inout IQRouter, router: @escaping @Sendable () -> StanzaRouter) {
        iq.register(namespace, forAccounts: true) { request in
            let router = router()
            guard let blockList = router.blockList else { return .error(StanzaError(.serviceUnavailable, "blocking is not available")) }
            switch (request.payload.name, request.isSet) {
            case ("blocklist", false):
                router.sessions.session(request.from)?.state.withLockedValue { $0.requestedBlocklist = true }
                return .result(XMLElement("blocklist", namespace: namespace, children: blockList.blocked(by: request.account).map { .element(item($0)) }))
            case ("block", true), ("unblock", true):
                let block = request.payload.name == "block"
                var jids: [String] = []
                for element in request.payload.elements where element.name == "item" {
                    guard let text = element[attribute: "jid"], let jid = try? JID(parsing: text) else {
                        return .error(StanzaError(.jidMalformed, "every item names a JID"))
                    }
                    jids.append(jid.description)
                }
                guard jids.count <= maxItemsPerRequest else { return .error(.badRequest("at most \(maxItemsPerRequest) items per request")) }
                if block, jids.isEmpty { return .error(.badRequest("a block names at least one item")) }
                let account = request.account, named = jids
                return .later {
                    do {
                        let changed: [String]
                        if block {
                            try await blockList.block(account, named)
                            changed = named
                        } else {
                            changed = try await blockList.unblock(account, named.isEmpty ? nil : named)
                        }
                        push(block ? "block" : "unblock", changed, everything: !block && named.isEmpty, to: account, router: router)
                        presence(block: block, changed, of: account, router: router)
                        return .result(nil)
                    } catch let error as StanzaError {
                        return .error(error)
                    } catch {
                        return .error(StanzaError(.internalServerError, "the block list could not be stored"))
                    }
                }
            default:
                return .error(.badRequest("get <blocklist/>, or set <block/> or <unblock/>"))
            }
        }
    }

    static func item(_ jid: String) -> XMLElement { XMLElement("item", namespace: namespace, attributes: [.init("jid", jid)]) }

    /// §3.3–3.4: a blocked contact sees the account go unavailable; an unblocked one that has
    /// a presence subscription sees its current presence again.
    private static func presence(block: Bool, _ jids: [String], of account: BareJID, router: StanzaRouter) {
        let resources = router.sessions.sessions(of: account).filter(\.isAvailable)
        for text in jids {
            guard let jid = try? JID(parsing: text), jid.domain == router.domain, let contact = jid.bare else { continue }
            if !block, router.roster.item(of: account, contact: contact)?.subscription.hasFrom != true { continue }
            let recipients = router.sessions.sessions(of: contact).filter { $0.isAvailable && (jid.resource == nil || $0.jid == jid) }
            for resource in resources {
                var stanza = block ? XMLElement("presence", namespace: Namespace.client, attributes: [.init("type", "unavailable")])
                    : resource.presence ?? XMLElement("presence", namespace: Namespace.client)
                stanza[attribute: "from"] = resource.jidText
                for recipient in recipients {
                    stanza[attribute: "to"] = recipient.jidText
                    recipient.deliver(stanza)
                }
            }
        }
    }

    /// Tells every resource that asked for the list what changed (§3.3, §3.4).
    private static func push(_ name: String, _ jids: [String], everything: Bool, to account: BareJID, router: StanzaRouter) {
        let payload = XMLElement(name, namespace: namespace, children: everything ? [] : jids.map { .element(item($0)) })
        for session in router.sessions.sessions(of: account) where session.state.withLockedValue({ $0.requestedBlocklist }) {
            session.deliver(XMLElement("iq", namespace: Namespace.client, attributes: [
                .init("type", "set"), .init("id", "block-" + SCRAMServer.randomNonce().prefix(8)), .init("to", session.jidText),
            ], children: [.element(payload)]))
        }
    }

    /// The error a blocked sender gets for a message or IQ to an address it blocks (§3.5).
    static func blockedError() -> StanzaError {
        StanzaError(.notAcceptable, "you block this address; unblock it to write to it", applicationCondition: XMLElement("blocked", namespace: errors))
    }
}
