public import AgoraCore
internal import AgoraStore

/// Ratings: a buyer says how satisfied it was with a purchase (issue 23).
extension Market {
    /// Rates purchase `id` for its buyer: satisfaction in thousandths (0…1000), weight on the
    /// gateway's scale (1…`policy.maxWeight`), an optional comment. The first call rates; a
    /// second within `policy.revisionPeriod` of the first revises (a new entry that
    /// supersedes); anything after that is refused.
    ///
    /// Only the purchase's buyer may rate it, itself: an operator cannot rate on a buyer's
    /// behalf (a rating is an opinion, not a sale). An unknown purchase and another account's
    /// purchase are refused with the same words, so nobody learns which purchases exist.
    public func rate(purchase id: String, satisfaction: Int, weight: Int, comment: String,
                     actor: LedgerActor, policy: TrustPolicy, sealing: Bool = false) async throws -> Accepted {
        guard (0...1000).contains(satisfaction) else {
            throw MarketRefusal.invalid(.outOfRange("satisfaction", reason: "0 … 1000 (thousandths: 1000 is fully satisfied)"))
        }
        guard weight >= 1, weight <= min(policy.maxWeight, 255) else {
            throw MarketRefusal.invalid(.outOfRange("weight", reason: "1 … \(policy.maxWeight) on this gateway's scale"))
        }
        let comment = try Self.validated { () throws(InvalidInput) in
            try TextField.validate(comment, field: "comment", maxBytes: TrustPolicy.maxCommentBytes)
        }
        let time = clock()
        let tables = store.tables
        return try await store.write(sealing: sealing) { [ledger, projection] txn -> Accepted in
            let state = MarketState(tables: tables, txn: txn)
            guard case .account(let rater) = actor, let record = try state.purchase(id), record.purchase.buyer == rater else {
                throw MarketRefusal.forbidden("only the buyer of purchase \(id) may rate it")
            }
            let purchase = record.purchase
            let existing = try state.rating(ofPurchase: id)
            let owner: BareJID
            if let existing {
                guard existing.revision == 0 else {
                    throw MarketRefusal.nothingToChange("purchase \(id) was rated and revised already: a rating is revised at most once")
                }
                let deadline = existing.firstRated + policy.revisionPeriod
                guard policy.revisionPeriod > 0 else {
                    throw MarketRefusal.forbidden("ratings on this gateway are final: purchase \(id) was rated already")
                }
                guard time.seconds <= deadline else {
                    throw MarketRefusal.forbidden("the rating of purchase \(id) could be revised until \((try? Timestamp(seconds: deadline))?.description ?? "\(deadline)"); it is final now")
                }
                // The revision rates the same service and seller as the rating it supersedes.
                guard case .rating(let first) = try LedgerEntry(decoding: try ledger.entry(at: existing.ledgerIndex, in: txn)).body else {
                    throw StoreError.corrupted("ledger entry \(existing.ledgerIndex) is not the rating the ratings table says it is")
                }
                owner = first.owner
            } else {
                guard let sensor = try state.sensor(purchase.sensor) else { throw MarketRefusal.unknownSensor(purchase.sensor) }
                owner = sensor.owner
            }
            let rating = LedgerEntry.Rating(purchase: id, rater: rater, sensor: purchase.sensor, owner: owner, satisfaction: satisfaction,
                                            weight: weight, comment: comment, revision: existing == nil ? 0 : 1)
            let entry = LedgerEntry(time: time, actor: actor, body: .rating(rating))
            let index = try projection.append(entry, to: ledger, in: txn)
            return Accepted(index: index, entry: entry)
        }
    }
}
