public import AgoraLedger
internal import AgoraCore
internal import AgoraXMPP

/// The consumer's side of `urn:agora:trust:1`: rating its purchases, reading scores.
public struct TrustRequests {
    let client: XMPPClient

    public init(client: XMPPClient) { self.client = client }

    /// A rating as the gateway recorded it, its receipt verified.
    public struct Rated: Sendable, Encodable {
        public let purchase: String
        public let revision: Int
        public let ledgerIndex: UInt64
        public let receipt: String
    }

    /// Rates `purchase`: `satisfaction` as written ("0.875"), `weight` on the gateway's scale.
    /// The receipt must verify under the pinned key and hold this rating, by this account,
    /// with these figures, before it is returned.
    public func rate(purchase: String, satisfaction: String, weight: Int, comment: String,
                     verifier: NoteVerifier) async throws(XMPPClientError) -> Rated {
        guard let thousandths = Thousandths.parse(satisfaction) else {
            throw .refused(condition: "bad-request", text: "satisfaction must be a decimal from 0 to 1 with at most three decimals, not '\(satisfaction)'")
        }
        let payload = XMLElement("rate", namespace: ClientNamespace.trust, attributes: [
            .init("purchase", purchase), .init("satisfaction", satisfaction), .init("weight", String(weight)),
        ], text: comment)
        guard let answer = try await client.request("set", payload),
              let index = answer[attribute: "ledger-index"].flatMap({ UInt64($0) }),
              let receiptText = answer.child("receipt", namespace: ClientNamespace.ledger)?.text
        else { throw .protocolViolation("a rating answer without its ledger index or receipt") }
        do {
            let receipt = try Receipt(json: Array(receiptText.utf8))
            let entry = try receipt.verify(with: verifier)
            guard receipt.index == index, case .rating(let rating) = try LedgerEntry(decoding: entry).body,
                  rating.purchase == purchase, rating.rater == client.options.jid, rating.satisfaction == thousandths,
                  rating.weight == weight, rating.comment == comment
            else { throw XMPPClientError.verification("the rating receipt is not of this rating") }
            return Rated(purchase: purchase, revision: rating.revision, ledgerIndex: index, receipt: receiptText)
        } catch let error as XMPPClientError {
            throw error
        } catch {
            throw .verification("the rating receipt does not verify under the gateway's log key: \(error)")
        }
    }

    /// What the gateway's trust model says of a sensor or an owner, to this account.
    public struct Scores: Sendable, Encodable {
        public let subject: String
        public let trust: Double
        public let reputation: Double
        public let reliability: Double?
        public let popularity: Double
        public let dependability: Double
        public let ratings: Int
        public let ownRatings: Int
        public let purchases: Int
        public let newcomer: Bool
        public let blacklisted: Bool
        public let weights: String
    }

    /// Scores of `sensor` (or, with `owner`, of everything that account sells).
    public func scores(sensor: String?, owner: String?, weights: String?) async throws(XMPPClientError) -> Scores {
        var payload = XMLElement("scores", namespace: ClientNamespace.trust)
        if let sensor { payload[attribute: "sensor"] = sensor }
        if let owner { payload[attribute: "owner"] = owner }
        if let weights { payload[attribute: "weights"] = weights }
        guard let answer = try await client.request("get", payload) else { throw .protocolViolation("an empty scores answer") }
        func number(_ name: String) throws(XMPPClientError) -> Double {
            guard let value = answer[attribute: name].flatMap({ Double($0) }) else { throw .protocolViolation("scores without '\(name)'") }
            return value
        }
        func count(_ name: String) throws(XMPPClientError) -> Int {
            guard let value = answer[attribute: name].flatMap({ Int($0) }) else { throw .protocolViolation("scores without '\(name)'") }
            return value
        }
        return Scores(subject: sensor ?? owner ?? "", trust: try number("trust"), reputation: try number("reputation"),
                      reliability: answer[attribute: "reliability"].flatMap { Double($0) }, popularity: try number("popularity"),
                      dependability: try number("dependability"), ratings: try count("ratings"), ownRatings: try count("own-ratings"),
                      purchases: try count("purchases"), newcomer: answer[attribute: "newcomer"] == "true",
                      blacklisted: answer[attribute: "blacklisted"] == "true", weights: answer[attribute: "weights"] ?? "")
    }
}
