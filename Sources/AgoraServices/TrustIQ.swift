internal import AgoraCore
internal import AgoraLedger
internal import AgoraMarket
internal import AgoraTrust
internal import AgoraXMPP

/// `urn:agora:trust:1`: ratings of purchases and the trust model's scores (issue 23).
///
///     set <rate purchase='' satisfaction='0.875' weight='3'>comment</rate>
///         → <rated purchase='' revision='0|1' ledger-index=''><receipt/></rated>   (the purchase's buyer)
///     get <scores sensor=''|owner='' [weights='a,b,c,d']/>
///         → <scores sensor='' trust='' reputation='' reliability='' popularity='' dependability=''
///                   ratings='' own-ratings='' purchases='' newcomer='' blacklisted='' weights=''/>
///
/// Satisfaction is a decimal in [0, 1] with at most three decimals (stored in thousandths);
/// weight is an integer on the gateway's scale (`[trust] max_weight`). `trust` is the
/// requester's own trust T, `reputation` everyone else's R; `weights` in the answer are the
/// ones applied (adapted to how many ratings of its own the requester has).
enum TrustIQ {
    static let namespace = "urn:agora:trust:1"

    static func register(into iq: inout IQRouter, context: IQContext) {
        iq.register(namespace, forRemote: true) { request in  // remote accounts: the same rules as local ones
            let payload = IQPayload(request.payload)
            switch (request.payload.name, request.isSet) {
            case ("rate", true):
                if let refusal = context.quotas.ledgerWrite(by: request.account) { return .error(refusal) }
                return rate(request.account, payload, context)
            case ("scores", false):
                return scores(request.account, payload, context)
            case (let name, let isSet):
                return .error(StanzaError(.badRequest, "\(namespace) has no \(isSet ? "set" : "get") <\(name)/>; see PROTOCOL.md"))
            }
        }
    }

    private static func rate(_ rater: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        let purchase: String, satisfaction: Int, weight: Int
        do throws(StanzaError) {
            purchase = try payload.required("purchase")
            let text = try payload.required("satisfaction")
            guard let value = Thousandths.parse(text) else {
                throw StanzaError(.badRequest, "'satisfaction' must be a decimal from 0 to 1 with at most three decimals, not '\(text.prefix(32))'")
            }
            satisfaction = value
            let weightText = try payload.required("weight")
            guard let w = Int(weightText) else { throw StanzaError(.badRequest, "'weight' must be an integer, not '\(weightText.prefix(32))'") }
            weight = w
        } catch { return .error(error) }
        let comment = payload.element.text
        return context.later {
            let accepted = try await context.market.rate(purchase: purchase, satisfaction: satisfaction, weight: weight, comment: comment,
                                                         actor: .account(rater), policy: context.trust, sealing: true)
            guard case .rating(let rating) = accepted.entry.body else { return nil }
            let receipt = try await context.ledger.sealedReceipt(for: accepted.index, through: context.store)
            var element = XMLElement("rated", namespace: namespace, attributes: [
                .init("purchase", purchase), .init("revision", String(rating.revision)), .init("ledger-index", String(accepted.index)),
            ])
            element.append(LedgerIQ.receiptElement(receipt))
            return element
        }
    }

    private static func scores(_ viewer: BareJID, _ payload: IQPayload, _ context: IQContext) -> IQReply {
        enum Subject { case sensor(SensorID), owner(BareJID) }
        let subject: Subject, weights: DependabilityWeights?
        do throws(StanzaError) {
            switch (payload.optional("sensor"), payload.optional("owner")) {
            case (.some, nil): subject = .sensor(try payload.sensor())
            case (nil, .some): subject = .owner(try payload.jid("owner"))
            default: throw StanzaError(.badRequest, "<scores/> needs exactly one of 'sensor' and 'owner'")
            }
            weights = try payload.optional("weights").map { text throws(StanzaError) in
                do { return try DependabilityWeights(parsing: text) } catch { throw StanzaError(.badRequest, "'weights': \(error)") }
            }
        } catch { return .error(error) }
        return context.later {
            let now = Timestamp.now()
            let (scores, name, value) = try context.market.read { state throws -> (ServiceScores, String, String) in
                guard try state.hasAccount(viewer) else { throw MarketRefusal.unknownAccount(viewer) }
                let privileged = try state.account(viewer)?.role == .operator
                switch subject {
                case .sensor(let id):
                    // A frozen sensor is out of the market, as search says: only its owner and operators see its scores.
                    guard let sensor = try state.sensor(id), !sensor.frozen || privileged || sensor.owner == viewer else {
                        throw MarketRefusal.unknownSensor(id)
                    }
                    return (try state.scores(ofSensor: id, for: viewer, policy: context.trust, weights: weights, now: now,
                                             cache: context.market.trustCache), "sensor", id.rawValue)
                case .owner(let owner):
                    // The same answer for an unknown account and one that sells nothing: no account directory here.
                    guard try state.sensors().contains(where: { $0.owner == owner }) else {
                        throw MarketRefusal.sellsNothing(owner)
                    }
                    return (try state.scores(ofOwner: owner, for: viewer, policy: context.trust, weights: weights, now: now), "owner", owner.description)
                }
            }
            return element(scores, subject: (name, value))
        }
    }

    static func element(_ scores: ServiceScores, subject: (name: String, value: String)) -> XMLElement {
        var attributes: [XMLElement.Attribute] = [
            .init(subject.name, subject.value),
            .init("trust", "\(scores.trust.value)"), .init("reputation", "\(scores.reputation.value)"),
            .init("popularity", "\(scores.popularity)"), .init("dependability", "\(scores.dependability.value)"),
            .init("ratings", String(scores.ratings)), .init("own-ratings", String(scores.trust.count)),
            .init("purchases", String(scores.purchases)),
            .init("newcomer", scores.newcomer ? "true" : "false"), .init("blacklisted", scores.blacklisted ? "true" : "false"),
            .init("weights", scores.dependability.weights.description),
        ]
        if let reliability = scores.reliability { attributes.append(.init("reliability", "\(reliability)")) }
        return XMLElement("scores", namespace: namespace, attributes: attributes)
    }
}
