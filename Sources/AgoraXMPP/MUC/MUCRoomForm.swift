/// The room configuration form (XEP-0045 §10.2, FORM_TYPE `muc#roomconfig`, fields of its
/// registry §16.5.3), written and read here: AgoraServices' XEP-0004 helper sits above
/// this target, and the form has a dozen fixed fields.
enum MUCRoomForm {
    static func field(_ name: String, _ type: String, _ label: String, _ values: [String], options: [(String, String)] = []) -> XMLElement {
        var field = XMLElement("field", namespace: MUCNamespace.dataForms, attributes: [.init("var", name), .init("type", type), .init("label", label)])
        for (value, label) in options {
            field.append(XMLElement("option", namespace: MUCNamespace.dataForms, attributes: [.init("label", label)], children: [
                .element(XMLElement("value", namespace: MUCNamespace.dataForms, text: value)),
            ]))
        }
        for value in values { field.append(XMLElement("value", namespace: MUCNamespace.dataForms, text: value)) }
        return field
    }

    /// The form an owner fills, with the room's current settings.
    static func form(_ settings: MUCRoomSettings, maxOccupants: Int, maxHistory: Int) -> XMLElement {
        let bool = { (value: Bool) in value ? "1" : "0" }
        return XMLElement("x", namespace: MUCNamespace.dataForms, attributes: [.init("type", "form")], children: [
            .element(XMLElement("title", namespace: MUCNamespace.dataForms, text: "Room configuration")),
            .element(field("FORM_TYPE", "hidden", "", [MUCNamespace.roomConfig])),
            .element(field("muc#roomconfig_roomname", "text-single", "Name", [settings.name])),
            .element(field("muc#roomconfig_roomdesc", "text-single", "Description", [settings.description])),
            .element(field("muc#roomconfig_persistentroom", "boolean", "Keep the room when it is empty and across restarts", [bool(settings.persistent)])),
            .element(field("muc#roomconfig_publicroom", "boolean", "List the room in the service's rooms", [bool(settings.isPublic)])),
            .element(field("muc#roomconfig_membersonly", "boolean", "Members only", [bool(settings.membersOnly)])),
            .element(field("muc#roomconfig_passwordprotectedroom", "boolean", "Needs a password", [bool(!settings.password.isEmpty)])),
            .element(field("muc#roomconfig_roomsecret", "text-private", "Password", [])),
            .element(field("muc#roomconfig_whois", "list-single", "Who may see occupants' real JIDs",
                           [settings.realJIDsVisibleToAll ? "anyone" : "moderators"], options: [("moderators", "Moderators only"), ("anyone", "Anyone")])),
            .element(field("muc#roomconfig_maxusers", "text-single", "Occupants at most (up to \(maxOccupants))", [String(settings.maxOccupants)])),
            .element(field("muc#roomconfig_changesubject", "boolean", "Occupants may change the subject", [bool(settings.occupantsMayChangeSubject)])),
            .element(field("muc#roomconfig_allowinvites", "boolean", "Members may invite", [bool(settings.membersMayInvite)])),
            .element(field("muc#roomconfig_historylength", "text-single", "Messages of history sent on entering (up to \(maxHistory))",
                           [String(settings.historyLength)])),
        ])
    }

    /// `settings` changed by a submitted form; fields it leaves out keep their value. Throws
    /// a `bad-request` naming the first field that is not acceptable.
    static func apply(_ form: XMLElement, to settings: MUCRoomSettings, maxOccupants: Int, maxHistory: Int) throws(StanzaError) -> MUCRoomSettings {
        var result = settings
        var passwordProtected: Bool?
        var secret: String?
        var seen = Set<String>()
        for field in form.elements where field.name == "field" {
            guard let name = field[attribute: "var"] else { continue }
            guard seen.insert(name).inserted else { throw .badRequest("the field \(name.prefix(64)) appears twice") }
            let values = field.elements.filter { $0.name == "value" }.map(\.text)
            let value = values.first ?? ""
            func boolean() throws(StanzaError) -> Bool {
                switch value {
                case "1", "true": return true
                case "0", "false", "": return false
                default: throw .badRequest("\(name) takes 1 or 0, not \(value.prefix(20))")
                }
            }
            func integer(_ range: ClosedRange<Int>) throws(StanzaError) -> Int {
                guard let number = Int(value), range.contains(number) else { throw .badRequest("\(name) takes a number from \(range.lowerBound) to \(range.upperBound)") }
                return number
            }
            func text() throws(StanzaError) -> String {
                guard value.utf8.count <= MUCConfiguration.maxTextBytes else { throw .badRequest("\(name) is longer than \(MUCConfiguration.maxTextBytes) bytes") }
                return value
            }
            switch name {
            case "FORM_TYPE":
                guard value == MUCNamespace.roomConfig else { throw .badRequest("this is not a muc#roomconfig form") }
            case "muc#roomconfig_roomname": result.name = try text()
            case "muc#roomconfig_roomdesc": result.description = try text()
            case "muc#roomconfig_persistentroom": result.persistent = try boolean()
            case "muc#roomconfig_publicroom": result.isPublic = try boolean()
            case "muc#roomconfig_membersonly": result.membersOnly = try boolean()
            case "muc#roomconfig_passwordprotectedroom": passwordProtected = try boolean()
            case "muc#roomconfig_roomsecret": secret = try text()
            case "muc#roomconfig_whois":
                guard value == "moderators" || value == "anyone" else { throw .badRequest("muc#roomconfig_whois takes moderators or anyone") }
                result.realJIDsVisibleToAll = value == "anyone"
            case "muc#roomconfig_maxusers": result.maxOccupants = try integer(1...maxOccupants)
            case "muc#roomconfig_changesubject": result.occupantsMayChangeSubject = try boolean()
            case "muc#roomconfig_allowinvites": result.membersMayInvite = try boolean()
            case "muc#roomconfig_historylength": result.historyLength = try integer(0...maxHistory)
            default: break  // fields of other services' forms are not ours to refuse (§10.2)
            }
        }
        if let secret, !secret.isEmpty { result.password = secret }
        if passwordProtected == false { result.password = "" }
        if passwordProtected == true, result.password.isEmpty { throw .badRequest("muc#roomconfig_passwordprotectedroom needs a password in muc#roomconfig_roomsecret") }
        return result
    }
}
