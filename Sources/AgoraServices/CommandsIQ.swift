internal import AgoraCore
internal import AgoraMarket
internal import AgoraXMPP

/// XEP-0050 ad-hoc commands with XEP-0004 forms, for operators, usable from any client
/// (Gajim, Psi, …): add user, invite sensor, mint credits, freeze and unfreeze a sensor,
/// gateway status. Listed (disco#items on the commands node) only to operators; anyone else
/// executing one gets `forbidden`.
///
/// Each command is one form: `execute` returns it (`status='executing'`), `complete` with the
/// submitted form runs it (`status='completed'` with a note, or a result form). No session
/// state is kept between the two: each submission is authorised and checked on its own.
enum CommandsIQ {
    static let namespace = "http://jabber.org/protocol/commands"

    struct Command {
        let node: String
        let name: String
        let instructions: String
        let fields: [DataForm.Field]
        /// Runs a submitted form as `actor`; returns the note to show, and an optional result form.
        let run: @Sendable (_ values: [String: String], _ actor: BareJID) async throws -> (note: String, result: XMLElement?)
    }

    static func commands(_ context: IQContext, _ desk: any OperatorDesk) -> [Command] {
        func text(_ name: String, _ label: String, required: Bool = true) -> DataForm.Field {
            DataForm.Field(name: name, type: "text-single", label: label, required: required)
        }
        let sensorFields: [DataForm.Field] = [
            text("sensor", "Sensor id (letters, digits, '-', '_', '.')"),
            DataForm.Field(name: "owner", type: "jid-single", label: "Owner (bare JID)", required: true),
            text("kind", "What it measures (e.g. pm25)"), text("price", "Credits per started hour"),
            text("name", "Display name", required: false), text("unit", "Unit of its readings", required: false),
            text("ttl", "Code valid for (30m, 24h, 7d)", required: false),
        ]
        return [
            Command(node: "add-user", name: "Add a user", instructions: "Open an account with an XMPP password (at least 8 characters).", fields: [
                DataForm.Field(name: "jid", type: "jid-single", label: "Bare JID", required: true),
                DataForm.Field(name: "role", type: "list-single", label: "Role", required: true, options: Role.allCases.map(\.rawValue), value: "consumer"),
                DataForm.Field(name: "password", type: "text-private", label: "Password", required: true),
            ]) { values, actor in
                let jid = try jid(values, "jid")
                let role = try Role(parsing: values["role"] ?? "")
                try await desk.addAccount(jid, role: role, password: values["password"] ?? "", actor: .account(actor))
                return ("Opened \(jid) as \(role).", nil)
            },
            Command(node: "invite-sensor", name: "Invite a sensor", instructions: "Register a sensor to pair over MQTT; its one-time code is shown once.",
                    fields: sensorFields) { values, actor in
                let registration = LedgerEntry.SensorRegistration(
                    sensor: try SensorID(values["sensor"] ?? ""), owner: try jid(values, "owner"), kind: values["kind"] ?? "",
                    name: values["name"] ?? "", unit: values["unit"] ?? "", price: try Credits(parsing: values["price"] ?? ""),
                    frequency: 0, lat: nil, lon: nil, url: "")
                let ttl = try TimeSpan.seconds(parsing: values["ttl"].flatMap { $0.isEmpty ? nil : $0 } ?? "24h", field: "ttl", maxSeconds: 30 * 86_400)
                let (code, expires) = try await desk.inviteSensor(registration, ttlSeconds: ttl, actor: .account(actor))
                return ("Invited \(registration.sensor); give it the one-time code (shown only now).",
                        DataForm.result(title: "Sensor invitation", fields: [
                            DataForm.Field(name: "sensor", type: "text-single", label: "Sensor", value: registration.sensor.rawValue),
                            DataForm.Field(name: "code", type: "text-single", label: "One-time code", value: code),
                            DataForm.Field(name: "expires", type: "text-single", label: "Expires", value: expires.rfc3339),
                        ]))
            },
            Command(node: "mint", name: "Mint credits", instructions: "Create credits in an account (a ledger entry).", fields: [
                DataForm.Field(name: "jid", type: "jid-single", label: "Account", required: true),
                text("amount", "Credits"), text("memo", "Why (kept in the ledger)", required: false),
            ]) { values, actor in
                let jid = try jid(values, "jid")
                let amount = try Credits(parsing: values["amount"] ?? "")
                let accepted = try await context.market.mint(amount, to: jid, memo: values["memo"] ?? "", actor: .account(actor))
                return ("Minted \(amount) credits to \(jid) (ledger entry \(accepted.index)).", nil)
            },
            Command(node: "freeze-sensor", name: "Freeze a sensor", instructions: "Stop selling and ingesting a sensor.", fields: [
                text("sensor", "Sensor id"), text("reason", "Reason (kept in the ledger)"),
            ]) { values, actor in
                let sensor = try SensorID(values["sensor"] ?? "")
                let accepted = try await context.market.freezeSensor(sensor, reason: values["reason"] ?? "", actor: .account(actor))
                return ("Froze \(sensor) (ledger entry \(accepted.index)).", nil)
            },
            Command(node: "unfreeze-sensor", name: "Unfreeze a sensor", instructions: "Sell and ingest a frozen sensor again.", fields: [
                text("sensor", "Sensor id"), text("reason", "Reason (kept in the ledger)", required: false),
            ]) { values, actor in
                let sensor = try SensorID(values["sensor"] ?? "")
                let accepted = try await context.market.unfreezeSensor(sensor, reason: values["reason"] ?? "", actor: .account(actor))
                return ("Unfroze \(sensor) (ledger entry \(accepted.index)).", nil)
            },
            Command(node: "status", name: "Gateway status", instructions: "", fields: []) { _, _ in
                let lines = try desk.status()
                return ("Gateway status.", DataForm.result(title: "Gateway status", fields: lines.enumerated().map { i, line in
                    DataForm.Field(name: "line\(i)", type: "text-single", label: line.label, value: line.value)
                }))
            },
        ]
    }

    static func register(into iq: inout IQRouter, context: IQContext, desk: any OperatorDesk, domain: String) {
        let commands = commands(context, desk)
        let byNode = Dictionary(uniqueKeysWithValues: commands.map { ($0.node, $0) })
        @Sendable func isOperator(_ jid: BareJID) -> Bool {
            (try? context.market.read { try $0.account(jid)?.role == .operator }) == true
        }
        iq.registerDisco(node: namespace, IQRouter.DiscoNode(items: { request in
            guard isOperator(request.account) else { return [] }
            return commands.map { XMLElement("item", namespace: Namespace.discoItems, attributes: [.init("jid", domain), .init("node", $0.node), .init("name", $0.name)]) }
        }, info: { request, node in
            guard byNode[node] != nil, isOperator(request.account) else { return nil }
            return [XMLElement("identity", namespace: Namespace.discoInfo, attributes: [.init("category", "automation"), .init("type", "command-node")]),
                    XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", namespace)]),
                    XMLElement("feature", namespace: Namespace.discoInfo, attributes: [.init("var", DataForm.namespace)])]
        }))
        iq.register(namespace) { request in
            guard request.isSet, request.payload.name == "command", let node = request.payload[attribute: "node"] else {
                return .error(StanzaError(.badRequest, "send <command node='…' action='execute'/> as an IQ set; list them with disco#items on node \(namespace)"))
            }
            guard let command = byNode[node] else { return .error(StanzaError(.itemNotFound, "no command \(node)")) }
            guard isOperator(request.account) else { return .error(StanzaError(.forbidden, "ad-hoc commands are for operators; \(request.account) is not one")) }
            // A submitted form means "run it", whatever the action says: XEP-0050's default
            // action is the advertised one (complete), and some clients send execute.
            let submitted = request.payload.child("x", namespace: DataForm.namespace)?[attribute: "type"] == "submit"
            let action = submitted ? "complete" : request.payload[attribute: "action"] ?? "execute"
            let session = request.payload[attribute: "sessionid"] ?? randomSession()
            @Sendable func reply(_ status: String, _ children: [XMLElement]) -> XMLElement {
                XMLElement("command", namespace: namespace, attributes: [.init("node", node), .init("sessionid", session), .init("status", status)],
                           children: children.map { .element($0) })
            }
            switch action {
            case "cancel":
                return .result(reply("canceled", []))
            case "execute" where !command.fields.isEmpty:
                return .result(reply("executing", [
                    XMLElement("actions", namespace: namespace, attributes: [.init("execute", "complete")], children: [.element(XMLElement("complete", namespace: namespace))]),
                    DataForm.form(title: command.name, instructions: command.instructions, fields: command.fields),
                ]))
            case "execute", "complete", "next":
                let form = request.payload.child("x", namespace: DataForm.namespace)
                let actor = request.account
                return context.later {
                    let values = command.fields.isEmpty ? [:] : try DataForm.submitted(form)
                    for field in command.fields where field.required && (values[field.name] ?? "").isEmpty {
                        throw StanzaError(.badRequest, "the field '\(field.name)' (\(field.label)) is required")
                    }
                    let (note, result) = try await command.run(values, actor)
                    var children = [XMLElement("note", namespace: namespace, attributes: [.init("type", "info")], text: note)]
                    if let result { children.append(result) }
                    return reply("completed", children)
                }
            default:
                return .error(StanzaError(.badRequest, "unknown action '\(action)'"))
            }
        }
    }

    private static func jid(_ values: [String: String], _ name: String) throws -> BareJID {
        do { return try BareJID(values[name] ?? "") } catch { throw StanzaError(.jidMalformed, "'\(name)': \(error.description)") }
    }

    private static func randomSession() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }.joined()
    }
}
