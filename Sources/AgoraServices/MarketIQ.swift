internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraXMPP

/// `urn:agora:market:1`: an account's credits and purchases. Every operation acts as the
/// requesting account (`LedgerActor.account`), so the market's own rules decide what it may do.
///
///     get  <balance/>                                   → <balance credits='N'/>
///     set  <purchase sensor='' from='' to='' request='' max-credits=''/> → <purchase id='' … ledger-index=''><receipt/></purchase>
///     get  <purchases>[RSM <set/>]</purchases>          → <purchases><purchase …/>…<set/></purchases>
///     set  <price sensor='' credits=''/>                → <price … ledger-index=''/>   (the sensor's owner)
///     set  <transfer to='' credits=''/>                 → <transfer … ledger-index=''/>
///     set  <group-open …/>, <group-pay id=''/>; get <group id=''/>: group purchases (`GroupPurchaseIQ`)
enum MarketIQ {
    static let namespace = "urn:agora:market:1"
    /// Purchases per page when the client does not say, and at most.
    static let defaultPage = 50
    static let maxPage = 500

    static func register(into iq: inout IQRouter, context: IQContext) {
        iq.register(namespace, forRemote: true) { request in  // remote accounts: the same rules as local ones
            let payload = IQPayload(request.payload)
            let account = request.account
            switch (request.payload.name, request.isSet) {
            case ("balance", false): return balance(account, context)
            case ("purchases", false): return purchases(account, payload, context)
            case ("group", false): return GroupPurchaseIQ.show(account, payload, context)
            case ("group-open", true), ("group-pay", true):
                if let refusal = context.quotas.ledgerWrite(by: account) { return .error(refusal) }
                return request.payload.name == "group-open" ? GroupPurchaseIQ.open(account, payload, context) : GroupPurchaseIQ.pay(account, payload, context)
            case ("purchase", true), ("price", true), ("transfer", true):
                // Each appends a permanent ledger entry: a rate per account (AccountQuotas).
                if let refusal = context.quotas.ledgerWrite(by: account) { return .error(refusal) }
                switch request.payload.name {
                case "purchase": return purchase(account, payload, context)
                case "price": return price(account, payload, context)
                default: return transfer(account, payload, context)
                }
            case (let name, let isSet):
                return .error(StanzaError(.badRequest, "\(namespace) has no \(isSet ? "set" : "get") <\(name)/>; see PROTOCOL.md"))
            }
        }
    }

    private static func balance(_ account: BareJID, _ context: IQContext) -> IQReply {
        context.now {
            let credits = try context.market.read { state throws -> Credits in
                guard try state.hasAccount(account) else { throw MarketRefusal.unknownAccount(account) }
                return try state.balance(account)
            }
            return XMLElement("balance", namespace: namespace, attributes: [.init("credits", String(credits.value))])
        }
    }

    private static func purchase(_ buyer: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let sensor: SensorID, from: Timestamp, to: Timestamp, maxCredits: Credits?
        do {
            sensor = try payload.sensor()
            from = try payload.time("from")
            to = try payload.time("to")
            // The most the buyer accepts to pay: a price raised since the buyer looked is refused, not charged.
            maxCredits = payload.optional("max-credits") == nil ? nil : try payload.credits("max-credits")
        } catch { return .error(error) }
        let requestID = payload.optional("request")
        return context.later {
            let result = try await context.market.purchase(buyer: buyer, sensor: sensor, from: from, to: to,
                                                           requestID: requestID, maxCredits: maxCredits, actor: .account(buyer), sealing: true)
            // The purchase's batch sealed a checkpoint over it: the receipt costs no second commit.
            let receipt = try await context.ledger.sealedReceipt(for: result.record.ledgerIndex, through: context.store)
            var element = element(result.record)
            element.attributes.append(.init("replayed", result.replayed ? "true" : "false"))
            element.append(LedgerIQ.receiptElement(receipt))
            return element
        }
    }

    private static func purchases(_ buyer: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        // A scan of every purchase (no per-buyer index yet): off the event loop.
        context.later {
            let set = try ResultSet(in: payload.element, defaultMax: defaultPage, cap: maxPage)
            let (page, total) = try context.market.read { try $0.purchases(of: buyer, after: set.after, limit: set.max) }
            var list = XMLElement("purchases", namespace: namespace)
            for record in page { list.append(element(record)) }
            list.append(ResultSet.page(first: page.first?.purchase.id, last: page.last?.purchase.id, count: total))
            return list
        }
    }

    private static func price(_ owner: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let sensor: SensorID, credits: Credits
        do {
            sensor = try payload.sensor()
            credits = try payload.credits("credits")
        } catch { return .error(error) }
        return context.later {
            let accepted = try await context.market.updateSensor(LedgerEntry.SensorUpdate(sensor: sensor, price: credits), actor: .account(owner))
            return XMLElement("price", namespace: namespace, attributes: [
                .init("sensor", sensor.rawValue), .init("credits", String(credits.value)), .init("ledger-index", String(accepted.index)),
            ])
        }
    }

    private static func transfer(_ from: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let to: BareJID, credits: Credits
        do {
            to = try payload.jid("to")
            credits = try payload.credits("credits")
        } catch { return .error(error) }
        return context.later {
            let accepted = try await context.market.transfer(credits, from: from, to: to, actor: .account(from))
            return XMLElement("transfer", namespace: namespace, attributes: [
                .init("to", to.description), .init("credits", String(credits.value)), .init("ledger-index", String(accepted.index)),
            ])
        }
    }

    static func element(_ record: PurchaseRecord) -> XMLElement {
        let p = record.purchase
        return XMLElement("purchase", namespace: namespace, attributes: [
            .init("id", p.id), .init("sensor", p.sensor.rawValue), .init("from", p.from.rfc3339), .init("to", p.to.rfc3339),
            .init("credits", String(p.amount.value)), .init("request", p.request), .init("ledger-index", String(record.ledgerIndex)),
        ])
    }
}
