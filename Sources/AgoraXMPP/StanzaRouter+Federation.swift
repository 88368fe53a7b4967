internal import AgoraCore

/// The router's side of federation: a local account's stanzas to other domains, the server's
/// own stanzas for local addresses, and what a peer server asks in its own name.
extension StanzaRouter {
    /// A stanza from a local account to another domain: over federation, or refused when
    /// this gateway does not federate. Returns the refusal (nil: sent, or not answerable).
    func toRemote(_ stanza: XMLElement, from session: Session, replyable: Bool) -> XMLElement? {
        guard let federation, session.bare.domain == domain else {
            return replyable ? StanzaError(.remoteServerNotFound, "this server does not federate; only \(domain) is served").reply(to: stanza) : nil
        }
        federation.send(stanza)
        return nil
    }

    /// Hands a stanza the server makes (a bounce, a reply over federation) to the local
    /// address in its `to`: a full JID's session, or an account's preferred one.
    func deliverLocally(_ stanza: XMLElement) {
        guard let to = stanza[attribute: "to"].flatMap({ try? JID(parsing: $0) }), to.domain == domain, let account = to.bare else { return }
        if to.resource != nil {
            sessions.session(to)?.deliver(stanza)
        } else {
            sessions.preferredSessions(of: account).first?.deliver(stanza)
        }
    }

    /// A stanza from a peer server itself (its domain, no account): it may ping us or ask
    /// what we are; other requests are refused, answers (to nothing we asked) dropped.
    func routeFromServer(_ stanza: XMLElement, from: JID) -> XMLElement? {
        guard stanza.name == "iq", let type = stanza[attribute: "type"], type == "get" || type == "set" else { return nil }
        let payload = stanza.firstElement
        if let payload, let handler = serverRequests[payload.namespace], stanza[attribute: "to"] == domain {
            // Answered from a job: the handler reads and writes the store.
            let to = JID(domain: domain)
            let started = work.start {
                let reply: XMLElement
                do {
                    reply = StanzaRouter.result(for: stanza, from: to, payload: try await handler(payload, from.domain))
                } catch let error as StanzaError {
                    reply = error.reply(to: stanza)
                } catch {
                    reply = StanzaError(.internalServerError, "the request could not be answered").reply(to: stanza)
                }
                self.federation?.send(reply)
            }
            return started ? nil : StanzaError(.serviceUnavailable, "the server is shutting down").reply(to: stanza)
        }
        if type == "get", payload?.namespace == Namespace.ping || payload?.namespace == Namespace.discoInfo {
            var request = stanza
            request[attribute: "from"] = from.description
            if payload?.namespace == Namespace.ping {
                return StanzaRouter.result(for: request, from: JID(domain: domain), payload: nil)
            }
            return StanzaRouter.result(for: request, from: JID(domain: domain), payload: XMLElement("query", namespace: Namespace.discoInfo, children: [
                .element(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [.init("category", "server"), .init("type", "im"), .init("name", "Agora")])),
                .element(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", Namespace.discoInfo)])),
                .element(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", Namespace.ping)])),
            ]))
        }
        return StanzaError(.serviceUnavailable, "a server may only ping this one or ask what it is").reply(to: stanza)
    }
}
