internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraReadings
internal import AgoraXMPP
internal import FoundationEssentials

/// `urn:agora:readings:1`: bulk history of one sensor, paged with XEP-0059, each reading
/// optionally with its proof: the audit path from its canonical record to the Merkle root of
/// its `readings.commit` batch, and (once per commit in the page) that entry's ledger receipt.
///
///     get <readings sensor='' from='' to='' [proofs='true']>[RSM <set/>]</readings>
///       → <readings sensor=''>
///           <r t='…' n='' [u=''] v|vs|vb|vd='' commit='i' [record='b64' leaf='j' size='n']>[<hash/>…]</r>…
///           [<receipt index='i'>JSON</receipt>…]
///           <set><first/><last/></set>
///         </readings>
/// Only the owner, operators and buyers whose purchases cover all of [from, to) may read.
enum ReadingsIQ {
    static let namespace = "urn:agora:readings:1"
    static let defaultPage = 100
    static let maxPage = 1000
    /// Largest page reply: half of what a client connection may have buffered (4 MiB).
    static let maxReplyBytes = 2 << 20

    /// Bytes `item` adds to a reply, a little over: attributes, and with proofs the base64
    /// record and its hashes.
    static func estimatedSize(_ item: ReadingsPage.Item) -> Int {
        var size = 160 + item.reading.name.utf8.count + item.reading.unit.utf8.count
        switch item.reading.value {
        case .string(let v), .data(let v): size += v.utf8.count * 6   // escaped, worst case
        case .number, .boolean: size += 24
        }
        if let path = item.path { size += item.record.count * 2 + path.count * 64 }
        return size
    }

    static func register(into iq: inout IQRouter, context: IQContext) {
        let query = ReadingsQuery(store: context.store, ledger: context.ledger)
        iq.register(namespace, forRemote: true) { request in  // remote accounts: the same rules as local ones
            guard !request.isSet, request.payload.name == "readings" else {
                return .error(StanzaError(.badRequest, "\(namespace) has only get <readings/>; see PROTOCOL.md"))
            }
            let payload = IQPayload(request.payload)
            // Proof pages rebuild batch trees: off the event loop.
            return context.later {
                let sensor = try payload.sensor()
                let (from, to) = try window(payload)
                let proofs = IQPayload.isTrue(payload.optional("proofs"))
                let set = try ResultSet(in: payload.element, defaultMax: defaultPage, cap: maxPage)
                try requireAccess(request.account, sensor: sensor, from: from, to: to, context)
                let page: ReadingsPage
                do {
                    page = try query.page(of: sensor, from: from, to: to, after: set.after, limit: set.max, proofs: proofs)
                } catch let error as LedgerError where error.isMissingCheckpoint {
                    // Readings committed since the last checkpoint (a client catching up on
                    // live data): sign one now — the writer's own seals come only every
                    // checkpoint interval — then answer. One commit, at most once a request.
                    try await context.ledger.sealCheckpoint(through: context.store)
                    page = try query.page(of: sensor, from: from, to: to, after: set.after, limit: set.max, proofs: proofs)
                }
                // A page ends early rather than outgrow what a connection may buffer (readings
                // with large vs/vd values): the client just asks for the next one.
                var bytes = 0
                let items = page.items.prefix { item in
                    bytes += estimatedSize(item)
                    return bytes <= maxReplyBytes
                }
                let kept = items.isEmpty ? Array(page.items.prefix(1)) : Array(items)
                let commits = Set(kept.map(\.commit))
                var reply = XMLElement("readings", namespace: namespace, attributes: [.init("sensor", sensor.rawValue)])
                for item in kept { reply.append(element(item)) }
                for (index, receipt) in page.receipts.sorted(by: { $0.key < $1.key }) where commits.contains(index) {
                    reply.append(LedgerIQ.receiptElement(receipt))
                }
                reply.append(ResultSet.page(first: kept.first?.cursor, last: kept.last?.cursor, count: nil))
                if page.more || kept.count < page.items.count { reply.attributes.append(.init("more", "true")) }
                return reply
            }
        }
    }

    /// `from` and `to` in nanoseconds; `from` before `to`.
    static func window(_ payload: IQPayload) throws -> (from: Int64, to: Int64) {
        func time(_ name: String) throws -> Int64 {
            let text = try payload.required(name)
            do { return try Reading.parseTime(text) } catch { throw StanzaError(.badRequest, "'\(name)' must be an RFC 3339 time: \(error.description)") }
        }
        let from = try time("from"), to = try time("to")
        guard from < to else { throw StanzaError(.badRequest, "the window must end after it starts ('from' \(Reading.formatTime(from)), 'to' \(Reading.formatTime(to)))") }
        return (from, to)
    }

    /// The market's rule for the whole window, in the whole seconds that contain it.
    static func requireAccess(_ reader: BareJID, sensor: SensorID, from: Int64, to: Int64, _ context: IQContext) throws {
        let seconds = (from: from.floorDivided(by: 1_000_000_000), to: (to - 1).floorDivided(by: 1_000_000_000) + 1)
        let decision = try context.store.read { txn in
            try AccessPolicy.mayRead(reader, sensor: sensor, from: try Timestamp(seconds: seconds.from), to: try Timestamp(seconds: seconds.to),
                                     in: txn, tables: context.store.tables)
        }
        if case .denied(let denial) = decision { throw denial }
    }

    static func element(_ item: ReadingsPage.Item) -> XMLElement {
        let reading = item.reading
        var attributes: [XMLElement.Attribute] = [.init("t", Reading.formatTime(reading.time)), .init("n", reading.name)]
        if !reading.unit.isEmpty { attributes.append(.init("u", reading.unit)) }
        switch reading.value {
        case .number(let v): attributes.append(.init("v", String(v)))
        case .string(let v): attributes.append(.init("vs", v))
        case .boolean(let v): attributes.append(.init("vb", v ? "true" : "false"))
        case .data(let v): attributes.append(.init("vd", v))
        }
        if let sum = reading.sum { attributes.append(.init("s", String(sum))) }
        attributes.append(.init("commit", String(item.commit)))
        var element = XMLElement("r", namespace: namespace, attributes: attributes)
        if let leaf = item.leafIndex, let size = item.batchSize, let path = item.path {
            element.attributes += [.init("record", Data(item.record).base64EncodedString()), .init("leaf", String(leaf)), .init("size", String(size))]
            for hash in path { element.append(XMLElement("hash", namespace: namespace, text: Data(hash).base64EncodedString())) }
        }
        return element
    }
}

extension Int64 {
    /// Division rounding toward −∞ (times before 1970 stay in the right second).
    func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
