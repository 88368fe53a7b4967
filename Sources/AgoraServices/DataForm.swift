internal import AgoraXMPP

/// XEP-0004 data forms, as far as the operator commands need them: forms to fill in, the
/// values of a submitted form, and result forms. Hand-written: a form is a handful of
/// elements, and no Swift XMPP library fits beside our own stanza types.
struct DataForm {
    static let namespace = "jabber:x:data"

    struct Field {
        let name: String
        let type: String
        let label: String
        var required = false
        var options: [String] = []
        var value: String?
    }

    static func form(title: String, instructions: String, fields: [Field]) -> XMLElement {
        var x = XMLElement("x", namespace: namespace, attributes: [.init("type", "form")])
        x.append(XMLElement("title", namespace: namespace, text: title))
        x.append(XMLElement("instructions", namespace: namespace, text: instructions))
        for field in fields { x.append(element(field)) }
        return x
    }

    static func result(title: String, fields: [Field]) -> XMLElement {
        var x = XMLElement("x", namespace: namespace, attributes: [.init("type", "result")])
        x.append(XMLElement("title", namespace: namespace, text: title))
        for field in fields { x.append(element(field)) }
        return x
    }

    /// A XEP-0128 extended-information form: `type='result'`, the hidden `FORM_TYPE` first.
    static func result(formType: String, fields: [(name: String, value: String)]) -> XMLElement {
        var x = XMLElement("x", namespace: namespace, attributes: [.init("type", "result")])
        x.append(element(Field(name: "FORM_TYPE", type: "hidden", label: "", value: formType)))
        for (name, value) in fields { x.append(element(Field(name: name, type: "text-single", label: name, value: value))) }
        return x
    }

    private static func element(_ field: Field) -> XMLElement {
        var element = XMLElement("field", namespace: namespace, attributes: [.init("var", field.name), .init("type", field.type)])
        if !field.label.isEmpty { element[attribute: "label"] = field.label }
        if field.required { element.append(XMLElement("required", namespace: namespace)) }
        for option in field.options {
            element.append(XMLElement("option", namespace: namespace, attributes: [.init("label", option)], children: [
                .element(XMLElement("value", namespace: namespace, text: option)),
            ]))
        }
        if let value = field.value { element.append(XMLElement("value", namespace: namespace, text: value)) }
        return element
    }

    /// The values of a submitted form (`type='submit'`), first value per field; at most 64
    /// fields of at most 4 KiB each.
    static func submitted(_ x: XMLElement?) throws(StanzaError) -> [String: String] {
        guard let x, x[attribute: "type"] == "submit" else { throw StanzaError(.badRequest, "submit the command's form (jabber:x:data, type='submit')") }
        var values: [String: String] = [:]
        for field in x.elements where field.name == "field" {
            guard let name = field[attribute: "var"] else { continue }
            let value = field.child("value", namespace: namespace)?.text ?? ""
            guard values.count < 64, value.utf8.count <= 4096 else { throw StanzaError(.policyViolation, "the form is too large") }
            values[name] = value
        }
        return values
    }
}
