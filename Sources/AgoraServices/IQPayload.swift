internal import AgoraCore
internal import AgoraXMPP

/// Typed reads of a request payload's attributes: each failure is a `bad-request` that names
/// the attribute and says what was expected, so a client author can fix the request.
struct IQPayload {
    let element: XMLElement

    init(_ element: XMLElement) { self.element = element }

    func optional(_ name: String) -> String? { element[attribute: name] }

    /// xs:boolean: "true" or "1".
    static func isTrue(_ value: String?) -> Bool { value == "true" || value == "1" }

    func required(_ name: String) throws(StanzaError) -> String {
        guard let value = element[attribute: name], !value.isEmpty else {
            throw StanzaError(.badRequest, "<\(element.name)/> needs the attribute '\(name)'")
        }
        return value
    }

    func sensor(_ name: String = "sensor") throws(StanzaError) -> SensorID {
        let text = try required(name)
        do { return try SensorID(text) } catch { throw StanzaError(.badRequest, "'\(name)': \(error.description)") }
    }

    func jid(_ name: String) throws(StanzaError) -> BareJID {
        let text = try required(name)
        do { return try BareJID(text) } catch { throw StanzaError(.jidMalformed, "'\(name)': \(error.description)") }
    }

    func time(_ name: String) throws(StanzaError) -> Timestamp {
        let text = try required(name)
        do { return try Timestamp(rfc3339: text) } catch { throw StanzaError(.badRequest, "'\(name)' must be an RFC 3339 time: \(error.description)") }
    }

    func credits(_ name: String) throws(StanzaError) -> Credits {
        let text = try required(name)
        do { return try Credits(parsing: text) } catch { throw StanzaError(.badRequest, "'\(name)': \(error.description)") }
    }

    func index(_ name: String) throws(StanzaError) -> UInt64 {
        let text = try required(name)
        guard let value = UInt64(text) else { throw StanzaError(.badRequest, "'\(name)' must be a non-negative integer, not '\(text.prefix(32))'") }
        return value
    }

    func optionalIndex(_ name: String) throws(StanzaError) -> UInt64? {
        guard element[attribute: name] != nil else { return nil }
        return try index(name)
    }
}
