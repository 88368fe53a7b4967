internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraXMPP

/// Group purchases in `urn:agora:market:1` (issue 22): a window of a sensor's data bought
/// by several accounts together, each paying its share (see `Market+GroupPurchase`).
///
///     set <group-open sensor='' from='' to='' deadline='' room='' request=''>
///           <member jid='' [share='']/>…</group-open>        → <group …><member …/>…<receipt/></group>
///     set <group-pay id=''/>                                 → <group …>…<receipt/>[<receipt/> of group.complete]</group>
///     get <group id=''/>                                     → <group …><member jid='' share='' paid=''/>…</group>
enum GroupPurchaseIQ {
    static let namespace = MarketIQ.namespace

    static func open(_ organizer: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let sensor: SensorID, from: Timestamp, to: Timestamp, deadline: Timestamp
        var members: [BareJID] = [], shares: [Credits] = []
        do throws(StanzaError) {
            sensor = try payload.sensor()
            from = try payload.time("from")
            to = try payload.time("to")
            deadline = try payload.time("deadline")
            let listed = payload.element.elements.filter { $0.name == "member" }
            guard listed.count <= GroupShares.maxMembers else { throw .badRequest("at most \(GroupShares.maxMembers) members") }
            for member in listed {
                let item = IQPayload(member)
                members.append(try item.jid("jid"))
                if item.optional("share") != nil { shares.append(try item.credits("share")) }
            }
            guard shares.isEmpty || shares.count == members.count else { throw .badRequest("give every member a share, or none") }
        } catch { return .error(error) }
        let room = payload.optional("room") ?? "", requestID = payload.optional("request")
        let (named, split) = (members, shares)
        return context.later {
            let opened = try await context.market.openGroupPurchase(organizer: organizer, sensor: sensor, from: from, to: to, deadline: deadline,
                                                                    members: named, shares: split.isEmpty ? nil : split, room: room,
                                                                    requestID: requestID, actor: .account(organizer), sealing: true)
            var element = element(opened.record)
            element.attributes.append(.init("replayed", opened.replayed ? "true" : "false"))
            element.append(LedgerIQ.receiptElement(try await context.ledger.sealedReceipt(for: opened.record.openIndex, through: context.store)))
            return element
        }
    }

    static func pay(_ member: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let id: String
        do { id = try payload.required("id") } catch { return .error(error) }
        return context.later {
            let paid = try await context.market.payGroupShare(id, member: member, actor: .account(member), sealing: true)
            var element = element(paid.record)
            element.attributes.append(.init("ledger-index", String(paid.payIndex)))
            element.append(LedgerIQ.receiptElement(try await context.ledger.sealedReceipt(for: paid.payIndex, through: context.store)))
            if let complete = paid.completeIndex {
                element.append(LedgerIQ.receiptElement(try await context.ledger.sealedReceipt(for: complete, through: context.store)))
            }
            return element
        }
    }

    static func show(_ reader: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let id: String
        do { id = try payload.required("id") } catch { return .error(error) }
        return context.now {
            let record = try context.market.read { state throws -> GroupRecord in
                let refusal = MarketRefusal.forbidden("\(reader) is not in group purchase \(id)")
                guard let record = try state.group(id) else { throw refusal }
                let owner = try state.sensor(record.open.sensor)?.owner, role = try state.account(reader)?.role
                guard record.open.organizer == reader || record.open.shares.share(of: reader) != nil || owner == reader || role == .operator else {
                    throw refusal
                }
                return record
            }
            return element(record)
        }
    }

    static func element(_ record: GroupRecord) -> XMLElement {
        let open = record.open
        var element = XMLElement("group", namespace: namespace, attributes: [
            .init("id", open.id), .init("sensor", open.sensor.rawValue), .init("from", open.from.rfc3339), .init("to", open.to.rfc3339),
            .init("credits", String(open.amount.value)), .init("deadline", open.deadline.rfc3339), .init("state", record.state.rawValue),
            .init("organizer", open.organizer.description), .init("open-index", String(record.openIndex)),
        ])
        if !open.room.isEmpty { element[attribute: "room"] = open.room }
        if let close = record.closeIndex { element[attribute: "close-index"] = String(close) }
        for share in open.shares.shares {
            element.append(XMLElement("member", namespace: namespace, attributes: [
                .init("jid", share.member.description), .init("share", String(share.amount.value)), .init("paid", record.hasPaid(share.member) ? "true" : "false"),
            ]))
        }
        return element
    }
}
