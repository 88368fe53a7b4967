internal import AgoraCore

/// A XEP-0313 query (`urn:xmpp:mam:2`) against one archive: its form (`with`, `start`,
/// `end`) and XEP-0059 paging read into a `MessageArchive.Query`; the page goes back as
/// result messages, then the IQ result's `<fin/>`.
enum ArchiveQuery {
    static let namespace = "urn:xmpp:mam:2"
    static let rsm = "http://jabber.org/protocol/rsm"
    static let dataForms = "jabber:x:data"

    /// The fields a query form may have, for `get` (§4.1.1).
    static var fieldsForm: XMLElement {
        XMLElement("query", namespace: namespace, children: [.element(XMLElement("x", namespace: dataForms, attributes: [.init("type", "form")], children:
            [("FORM_TYPE", "hidden", namespace), ("with", "jid-single", nil), ("start", "text-single", nil), ("end", "text-single", nil)].map { name, type, value in
                var field = XMLElement("field", namespace: dataForms, attributes: [.init("var", name), .init("type", type)])
                if let value { field.append(XMLElement("value", namespace: dataForms, text: value)) }
                return .element(field)
            }))])
    }

    static func parse(_ payload: XMLElement) throws(StanzaError) -> MessageArchive.Query {
        var query = MessageArchive.Query()
        if let form = payload.child("x", namespace: dataForms) {
            for field in form.elements where field.name == "field" {
                let value = field.child("value", namespace: dataForms)?.text ?? ""
                switch field[attribute: "var"] ?? "" {
                case "FORM_TYPE":
                    guard value == namespace else { throw .badRequest("the form is not a urn:xmpp:mam:2 query") }
                case "with":
                    guard let jid = try? JID(parsing: value) else { throw StanzaError(.jidMalformed, "'with' is not a JID") }
                    query.with = jid
                case "start":
                    guard let time = try? Timestamp(rfc3339: value) else { throw .badRequest("'start' is not an XEP-0082 time") }
                    query.start = time
                case "end":
                    guard let time = try? Timestamp(rfc3339: value) else { throw .badRequest("'end' is not an XEP-0082 time") }
                    query.end = time
                case let other:
                    throw StanzaError(.featureNotImplemented, "the field \(other.prefix(40)) is not supported")
                }
            }
        }
        if let set = payload.child("set", namespace: rsm) {
            if let max = set.child("max", namespace: rsm) {
                guard let count = Int(max.text), count >= 0 else { throw .badRequest("<max/> is a count") }
                query.max = min(count, MessageArchive.maxPage)
            }
            if let after = set.child("after", namespace: rsm) {
                guard let id = UInt64(after.text) else { throw .itemNotFound("no such archive id: \(after.text.prefix(24))") }
                query.after = id
            }
            if let before = set.child("before", namespace: rsm) {
                if before.text.isEmpty { query.lastPage = true } else {
                    guard let id = UInt64(before.text) else { throw .itemNotFound("no such archive id: \(before.text.prefix(24))") }
                    query.before = id
                }
            }
        }
        return query
    }

    /// Answers a query of `archive` (owned by `owner`, the address results come from) to
    /// `session`: the result messages, then the IQ's payload.
    static func answer(_ payload: XMLElement, archive: MessageArchive, owner: String, to session: Session) -> IQReply {
        let query: MessageArchive.Query
        do { query = try parse(payload) } catch { return .error(error) }
        let queryID = payload[attribute: "queryid"].map { String($0.prefix(128)) }
        return .later {
            await archive.flushed()
            let page: MessageArchive.Page
            do { page = try archive.page(of: owner, query) } catch {
                return .error(StanzaError(.internalServerError, "the archive could not be read"))
            }
            for (id, message) in page.items {
                var result = XMLElement("result", namespace: namespace, attributes: [.init("id", String(id))])
                if let queryID { result[attribute: "queryid"] = queryID }
                result.append(XMLElement("forwarded", namespace: MessageCarbons.forward, children: [
                    .element(XMLElement("delay", namespace: Namespace.delay, attributes: [.init("stamp", MessageArchive.stamp(id).rfc3339)])),
                    .element(message),
                ]))
                session.deliver(XMLElement("message", namespace: Namespace.client, attributes: [.init("from", owner), .init("to", session.jidText)],
                                           children: [.element(result)]))
            }
            var set = XMLElement("set", namespace: rsm)
            if let first = page.items.first, let last = page.items.last {
                set.append(XMLElement("first", namespace: rsm, text: String(first.id)))
                set.append(XMLElement("last", namespace: rsm, text: String(last.id)))
            }
            return .result(XMLElement("fin", namespace: namespace, attributes: [.init("complete", page.complete ? "true" : "false")],
                                      children: [.element(set)]))
        }
    }

    /// The handler for an account's own archive (queries to its bare JID, or with no `to`).
    static func register(into iq: inout IQRouter, router: @escaping @Sendable () -> StanzaRouter) {
        iq.register(namespace, forAccounts: true) { request in
            let router = router()
            guard let archive = router.archive, archive.enabled else { return .error(StanzaError(.serviceUnavailable, "messages are not archived here")) }
            guard request.isSet else { return .result(fieldsForm) }
            guard let session = router.sessions.session(request.from) else { return .error(StanzaError(.unexpectedRequest, "no session")) }
            return answer(request.payload, archive: archive, owner: request.account.description, to: session)
        }
    }
}
