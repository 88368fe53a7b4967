internal import AgoraCore
internal import AgoraMarket
internal import AgoraReadings
internal import AgoraXMPP

/// `urn:xmpp:iot:sensordata` (XEP-0323): read-outs of sensors, the sensor id as node id.
///
///     get <req seqnr='n' momentary='true'><node nodeId='air-1'/>[<field name='pm25'/>…]</req>
///       → result <accepted seqnr='n'/>, then message <fields seqnr='n' done='true'>
///           <node nodeId='air-1'><timestamp value='…'><numeric name='pm25' value='12.5' unit='…'
///           momentary='true' automaticReadout='true'/></timestamp></node></fields>
///     get <req seqnr='n' historical='true' from='…' to='…'>…</req>   (every reading in [from, to))
/// Refusals are an IQ error carrying `<rejected seqnr='n'><error>why</error></rejected>`;
/// a read-out that fails after `accepted` ends with a `<failure/>` message.
/// Momentary read-outs give the owner and operators the newest readings, and a buyer the
/// newest ones inside a window it bought; historical ones follow the readings:1 rule (the
/// whole window bought). A historical read-out holds at most `maxReadings`; bulk history is
/// `urn:agora:readings:1`'s job.
enum SensorDataIQ {
    static let namespace = "urn:xmpp:iot:sensordata"
    static let maxReadings = 10_000
    static let maxNodes = 16
    /// Timestamps per `fields` message.
    static let batch = 100

    static func register(into iq: inout IQRouter, context: IQContext) {
        let query = ReadingsQuery(store: context.store, ledger: context.ledger)
        iq.register(namespace, forRemote: true) { request in  // remote accounts: the same rules as local ones
            guard !request.isSet, request.payload.name == "req" else {
                return .error(StanzaError(.featureNotImplemented, "this gateway answers read-out requests (<req/>) only"))
            }
            let seqnr = request.payload[attribute: "seqnr"] ?? ""
            func rejected(_ condition: StanzaError.Condition, _ why: String) -> IQReply {
                .error(StanzaError(condition, why, payload: XMLElement("rejected", namespace: namespace, attributes: [.init("seqnr", seqnr)],
                                                                     children: [.element(XMLElement("error", namespace: namespace, text: why))])))
            }
            do {
                let plan = try Plan(request.payload, reader: request.account, context: context, query: query)
                return .resultThen(XMLElement("accepted", namespace: namespace, attributes: [.init("seqnr", seqnr)])) { send in
                    plan.readOut(seqnr: seqnr, query: query, send: send)
                }
            } catch {
                let failure = IQFailure.stanzaError(for: error, logger: context.logger)
                return rejected(failure.condition, failure.text)
            }
        }
    }

    /// A checked request: which sensors, which fields, which window; access already decided.
    struct Plan: Sendable {
        let sensors: [SensorID]
        let fields: Set<String>?
        /// nil: momentary (the newest readings).
        let window: (from: Int64, to: Int64)?
        let reader: BareJID
        let context: IQContext

        init(_ req: XMLElement, reader: BareJID, context: IQContext, query: ReadingsQuery) throws {
            guard let seqnr = req[attribute: "seqnr"], !seqnr.isEmpty, seqnr.utf8.count <= 64 else {
                throw StanzaError(.badRequest, "<req/> needs a seqnr (at most 64 characters)")
            }
            let nodes = req.elements.filter { $0.name == "node" }
            guard !nodes.isEmpty, nodes.count <= SensorDataIQ.maxNodes else {
                throw StanzaError(.badRequest, "name 1…\(SensorDataIQ.maxNodes) sensors as <node nodeId='…'/>")
            }
            sensors = try nodes.map { try IQPayload($0).sensor("nodeId") }
            let names = req.elements.filter { $0.name == "field" }.compactMap { $0[attribute: "name"] }
            fields = names.isEmpty ? nil : Set(names)
            let payload = IQPayload(req)
            if IQPayload.isTrue(req[attribute: "historical"]) || req[attribute: "from"] != nil || req[attribute: "to"] != nil {
                let window = try ReadingsIQ.window(payload)
                for sensor in sensors { try ReadingsIQ.requireAccess(reader, sensor: sensor, from: window.from, to: window.to, context) }
                self.window = window
            } else {
                for sensor in sensors {
                    guard try context.market.read({ try $0.sensor(sensor) }) != nil else { throw MarketRefusal.unknownSensor(sensor) }
                }
                window = nil
            }
            self.reader = reader
            self.context = context
        }

        func readOut(seqnr: String, query: ReadingsQuery, send: @Sendable (XMLElement) -> Bool) {
            var messages: [XMLElement] = []
            var total = 0
            do {
                for sensor in sensors {
                    let readings = try collect(sensor, query: query)
                    // One budget for the whole request, not per sensor: the messages are built
                    // before they are sent.
                    total += readings.count
                    guard total <= SensorDataIQ.maxReadings else {
                        throw StanzaError(.resourceConstraint, "more than \(SensorDataIQ.maxReadings) readings in this read-out: ask for fewer sensors or a narrower window, or page through urn:agora:readings:1")
                    }
                    let groups = Dictionary(grouping: readings, by: \.time).sorted { $0.key < $1.key }
                    for chunk in stride(from: 0, to: max(groups.count, 1), by: SensorDataIQ.batch) {
                        var node = XMLElement("node", namespace: namespace, attributes: [.init("nodeId", sensor.rawValue)])
                        for (time, readings) in groups[chunk..<min(chunk + SensorDataIQ.batch, groups.count)] {
                            var timestamp = XMLElement("timestamp", namespace: namespace, attributes: [.init("value", Reading.formatTime(time))])
                            for reading in readings { timestamp.append(field(reading, momentary: window == nil)) }
                            node.append(timestamp)
                        }
                        messages.append(XMLElement("fields", namespace: namespace, attributes: [.init("seqnr", seqnr)], children: [.element(node)]))
                    }
                }
            } catch {
                let why = IQFailure.stanzaError(for: error, logger: context.logger).text
                _ = send(message(XMLElement("failure", namespace: namespace, attributes: [.init("seqnr", seqnr), .init("done", "true")], children: [
                    .element(XMLElement("error", namespace: namespace, attributes: [.init("nodeId", sensors.first?.rawValue ?? ""),
                                                                                   .init("timestamp", Timestamp.now().rfc3339)], text: why)),
                ])))
                return
            }
            for (i, var fields) in messages.enumerated() {
                fields.attributes.append(.init("done", i == messages.count - 1 ? "true" : "false"))
                guard send(message(fields)) else { return }   // the requester left
            }
        }

        private func collect(_ sensor: SensorID, query: ReadingsQuery) throws -> [Reading] {
            guard let window else {
                let newest = try query.latest(of: sensor, names: fields)
                // A buyer sees the newest readings only where a purchase covers them.
                return try newest.filter { reading in
                    try context.store.read { txn in
                        try AccessPolicy.mayRead(reader, sensor: sensor, at: Timestamp(seconds: reading.time.floorDivided(by: 1_000_000_000)),
                                                 in: txn, tables: context.store.tables).isAllowed
                    }
                }
            }
            let page = try query.page(of: sensor, from: window.from, to: window.to, after: nil, limit: SensorDataIQ.maxReadings + 1, proofs: false)
            guard !page.more, page.items.count <= SensorDataIQ.maxReadings else {
                throw StanzaError(.resourceConstraint, "more than \(SensorDataIQ.maxReadings) readings in the window: narrow it, or page through urn:agora:readings:1")
            }
            return page.items.map(\.reading).filter { fields?.contains($0.name) ?? true }
        }

        private func field(_ reading: Reading, momentary: Bool) -> XMLElement {
            var attributes: [XMLElement.Attribute] = [.init("name", reading.name)]
            let kind: String
            switch reading.value {
            case .number(let v): kind = "numeric"; attributes.append(.init("value", String(v)))
            case .boolean(let v): kind = "boolean"; attributes.append(.init("value", v ? "true" : "false"))
            case .string(let v), .data(let v): kind = "string"; attributes.append(.init("value", v))
            }
            if kind == "numeric", !reading.unit.isEmpty { attributes.append(.init("unit", reading.unit)) }
            attributes.append(.init(momentary ? "momentary" : "historicalOther", "true"))
            attributes.append(.init("automaticReadout", "true"))
            return XMLElement(kind, namespace: namespace, attributes: attributes)
        }

        private func message(_ payload: XMLElement) -> XMLElement {
            XMLElement("message", namespace: Namespace.client, children: [.element(payload)])
        }
    }
}
