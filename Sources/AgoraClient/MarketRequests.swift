public import AgoraLedger
internal import AgoraCore
internal import AgoraXMPP

/// The consumer's side of `urn:agora:market:1`: credits, purchases, the list of them.
public struct MarketRequests {
    let client: XMPPClient

    public init(client: XMPPClient) { self.client = client }

    public func balance() async throws(XMPPClientError) -> Int64 {
        let answer = try await client.request("get", XMLElement("balance", namespace: ClientNamespace.market))
        guard let credits = answer?[attribute: "credits"].flatMap({ Int64($0) }) else { throw .protocolViolation("a balance without credits") }
        return credits
    }

    /// A purchase as the gateway answered it, its receipt verified.
    public struct Purchase: Sendable, Encodable {
        public let id: String
        public let sensor: String
        public let from: String
        public let to: String
        public let credits: Int64
        public let ledgerIndex: UInt64
        public let replayed: Bool
        /// The receipt's JSON, verified against the pinned log key before this was returned.
        public let receipt: String
    }

    /// Buys `[from, to)` of `sensor`, paying at most `maxCredits`; `requestID` makes a retry
    /// return the first purchase instead of paying twice.
    public func buy(sensor: String, from: String, to: String, maxCredits: Int64?, requestID: String,
                    verifier: NoteVerifier) async throws(XMPPClientError) -> Purchase {
        var payload = XMLElement("purchase", namespace: ClientNamespace.market, attributes: [
            .init("sensor", sensor), .init("from", from), .init("to", to), .init("request", requestID),
        ])
        if let maxCredits { payload[attribute: "max-credits"] = String(maxCredits) }
        guard let answer = try await client.request("set", payload),
              let id = answer[attribute: "id"], let credits = answer[attribute: "credits"].flatMap({ Int64($0) }),
              let index = answer[attribute: "ledger-index"].flatMap({ UInt64($0) }),
              let receiptText = answer.child("receipt", namespace: ClientNamespace.ledger)?.text
        else { throw .protocolViolation("a purchase answer without its id, credits, ledger index or receipt") }
        do {
            let receipt = try Receipt(json: Array(receiptText.utf8))
            let entry = try receipt.verify(with: verifier)
            guard receipt.index == index, case .purchase(let bought) = try LedgerEntry(decoding: entry).body,
                  bought.sensor.rawValue == sensor, bought.buyer == client.options.jid, Int64(bought.amount.value) == credits, bought.id == id
            else { throw XMPPClientError.verification("the purchase receipt is not of this purchase") }
        } catch let error as XMPPClientError {
            throw error
        } catch {
            throw .verification("the purchase receipt does not verify under the gateway's log key: \(error)")
        }
        return Purchase(id: id, sensor: sensor, from: answer[attribute: "from"] ?? from, to: answer[attribute: "to"] ?? to,
                        credits: credits, ledgerIndex: index, replayed: answer[attribute: "replayed"] == "true", receipt: receiptText)
    }

    /// One of the requester's purchases, as listed.
    public struct Listed: Sendable, Encodable {
        public let id: String, sensor: String, from: String, to: String, credits: Int64, ledgerIndex: UInt64
    }

    /// Every purchase of the requester, page by page (XEP-0059).
    public func purchases() async throws(XMPPClientError) -> [Listed] {
        var result: [Listed] = []
        var after: String?
        for _ in 0..<10_000 {
            var set = XMLElement("set", namespace: ClientNamespace.rsm, children: [.element(XMLElement("max", namespace: ClientNamespace.rsm, text: "200"))])
            if let after { set.append(XMLElement("after", namespace: ClientNamespace.rsm, text: after)) }
            let answer = try await client.request("get", XMLElement("purchases", namespace: ClientNamespace.market, children: [.element(set)]))
            let items = answer?.elements.filter { $0.name == "purchase" } ?? []
            for item in items {
                guard let id = item[attribute: "id"], let sensor = item[attribute: "sensor"], let from = item[attribute: "from"], let to = item[attribute: "to"],
                      let credits = item[attribute: "credits"].flatMap({ Int64($0) }), let index = item[attribute: "ledger-index"].flatMap({ UInt64($0) })
                else { throw .protocolViolation("a listed purchase lacks an attribute") }
                result.append(Listed(id: id, sensor: sensor, from: from, to: to, credits: credits, ledgerIndex: index))
            }
            let last = answer?.child("set", namespace: ClientNamespace.rsm)?.child("last", namespace: ClientNamespace.rsm)?.text
            let count = answer?.child("set", namespace: ClientNamespace.rsm)?.child("count", namespace: ClientNamespace.rsm).map { Int($0.text) } ?? nil
            guard let last, !items.isEmpty, result.count < (count ?? Int.max) else { break }
            after = last
        }
        return result
    }
}
