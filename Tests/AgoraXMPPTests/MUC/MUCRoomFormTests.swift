@testable import AgoraXMPP
import Testing

/// The room configuration form: what an owner submits changes exactly the settings it
/// names, within the service's bounds; anything else is refused and changes nothing.
@Suite struct MUCRoomFormTests {
    func submitted(_ fields: [(String, [String])]) -> XMLElement {
        var form = XMLElement("x", namespace: MUCNamespace.dataForms, attributes: [.init("type", "submit")])
        form.append(MUCRoomForm.field("FORM_TYPE", "hidden", "", [MUCNamespace.roomConfig]))
        for (name, values) in fields { form.append(MUCRoomForm.field(name, "text-single", "", values)) }
        return form
    }

    @Test func aSubmittedFormChangesTheFieldsItNamesAndKeepsTheRest() throws {
        let before = MUCRoomSettings()
        let after = try MUCRoomForm.apply(submitted([
            ("muc#roomconfig_membersonly", ["1"]), ("muc#roomconfig_roomname", ["Street group"]),
            ("muc#roomconfig_whois", ["anyone"]), ("muc#roomconfig_historylength", ["7"]),
            ("muc#roomconfig_passwordprotectedroom", ["1"]), ("muc#roomconfig_roomsecret", ["s3cret"]),
        ]), to: before, maxOccupants: 100, maxHistory: 10)
        #expect(after.membersOnly && after.realJIDsVisibleToAll && after.password == "s3cret")
        #expect(after.name == "Street group" && after.historyLength == 7)
        #expect(after.persistent == before.persistent && after.isPublic == before.isPublic && after.maxOccupants == before.maxOccupants)
        // Unprotecting clears the password; leaving the secret out keeps it.
        let kept = try MUCRoomForm.apply(submitted([("muc#roomconfig_roomname", ["x"])]), to: after, maxOccupants: 100, maxHistory: 10)
        #expect(kept.password == "s3cret")
        let open = try MUCRoomForm.apply(submitted([("muc#roomconfig_passwordprotectedroom", ["0"])]), to: after, maxOccupants: 100, maxHistory: 10)
        #expect(open.password.isEmpty)
    }

    @Test(arguments: [
        ("muc#roomconfig_maxusers", "101"), ("muc#roomconfig_maxusers", "0"), ("muc#roomconfig_historylength", "11"),
        ("muc#roomconfig_membersonly", "yes"), ("muc#roomconfig_whois", "everybody"),
        ("muc#roomconfig_roomname", String(repeating: "n", count: 1025)), ("muc#roomconfig_passwordprotectedroom", "1"),
    ])
    func valuesBeyondTheBoundsAreRefusedNamingTheField(_ field: String, _ value: String) {
        #expect {
            try MUCRoomForm.apply(submitted([(field, [value])]), to: MUCRoomSettings(), maxOccupants: 100, maxHistory: 10)
        } throws: { error in
            (error as? StanzaError)?.condition == .badRequest && (error as? StanzaError)?.text.contains(field.prefix(20)) == true
        }
    }

    @Test func aFieldTwiceAndAnotherFormTypeAreRefused() {
        #expect(throws: StanzaError.self) {
            try MUCRoomForm.apply(submitted([("muc#roomconfig_membersonly", ["1"]), ("muc#roomconfig_membersonly", ["0"])]),
                                  to: MUCRoomSettings(), maxOccupants: 100, maxHistory: 10)
        }
        var other = XMLElement("x", namespace: MUCNamespace.dataForms, attributes: [.init("type", "submit")])
        other.append(MUCRoomForm.field("FORM_TYPE", "hidden", "", ["urn:example:other"]))
        #expect(throws: StanzaError.self) { try MUCRoomForm.apply(other, to: MUCRoomSettings(), maxOccupants: 100, maxHistory: 10) }
    }

    @Test func theFormShowsTheCurrentSettings() {
        var settings = MUCRoomSettings()
        settings.membersOnly = true
        settings.password = "hidden"
        let form = MUCRoomForm.form(settings, maxOccupants: 100, maxHistory: 10)
        let values = Dictionary(uniqueKeysWithValues: form.elements.filter { $0.name == "field" }.map {
            ($0[attribute: "var"] ?? "", $0.elements.filter { $0.name == "value" }.map(\.text))
        })
        #expect(values["muc#roomconfig_membersonly"] == ["1"])
        #expect(values["muc#roomconfig_passwordprotectedroom"] == ["1"])
        // The password itself is never sent back.
        #expect(values["muc#roomconfig_roomsecret"] == [])
    }
}
