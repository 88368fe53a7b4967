public import AgoraCore
internal import Crypto

/// Purchases: a buyer pays a sensor's owner for a window of its data.
extension Market {
    /// The result of `purchase`: the purchase and whether it was made by an earlier call
    /// with the same request id (then nothing was charged this time).
    public struct PurchaseResult: Sendable, Hashable {
        public let record: PurchaseRecord
        public let replayed: Bool
    }

    /// Longest window one purchase may cover (a year and a day).
    public static let maxWindowSeconds: Int64 = 366 * 24 * 3600

    /// Buys `[from, to)` of `sensor`'s data for `buyer`: the price is
    /// `price × ⌈hours of the window⌉` credits, paid to the sensor's owner.
    ///
    /// Idempotent by `requestID`: the purchase id is derived from (buyer, request id), so a
    /// repeated request returns the first purchase and charges nothing; the same id with
    /// different terms is refused. The actor must be the buyer or an operator (who sells
    /// on a buyer's behalf). Refused: overdraft, frozen or unknown sensor, empty or
    /// over-long window, buying one's own sensor, and a cost above `maxCredits`.
    ///
    /// - Parameter maxCredits: the most the buyer accepts to pay. The owner may change the
    ///   price between the buyer's look-up and the purchase; with a bound, a raised price is
    ///   refused instead of charged. nil accepts any price (kept for the CLI's operator sales
    ///   and old clients; every client in this repository sends a bound).
    /// - Parameter sealing: seal a checkpoint over the purchase in the same commit, for a
    ///   caller that hands out its receipt at once (`Ledger.sealedReceipt` then only reads).
    public func purchase(buyer: BareJID, sensor: SensorID, from: Timestamp, to: Timestamp,
                         requestID: String?, maxCredits: Credits? = nil, actor: LedgerActor, sealing: Bool = false) async throws -> PurchaseResult {
        guard from < to else { throw MarketRefusal.invalidWindow("the window must end after it starts (from \(from), to \(to))") }
        guard to.seconds - from.seconds <= Self.maxWindowSeconds else {
            throw MarketRefusal.invalidWindow("a purchase covers at most 366 days")
        }
        let request = try Self.requestID(requestID)
        let id = Self.purchaseID(buyer: buyer, request: request)
        let hours = UInt64((to.seconds - from.seconds + 3599) / 3600)
        let time = clock()
        let tables = store.tables
        let outcome = try await store.write(sealing: sealing) { [ledger, projection] txn -> PurchaseResult in
            let state = MarketState(tables: tables, txn: txn)
            // Authorise before the idempotency look-up, so nobody learns of another's purchase.
            if actor != .account(buyer) {
                try Self.requireOperator(actor, state, to: "buy on another account's behalf")
            }
            if let existing = try state.purchase(id) {
                let p = existing.purchase
                guard p.sensor == sensor, p.from == from, p.to == to else { throw MarketRefusal.requestConflict(request) }
                return PurchaseResult(record: existing, replayed: true)
            }
            guard try state.account(buyer) != nil else { throw MarketRefusal.unknownAccount(buyer) }
            guard let record = try state.sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            guard !record.frozen else { throw MarketRefusal.sensorFrozen(sensor) }
            guard record.owner != buyer else { throw MarketRefusal.forbidden("\(buyer) owns sensor \(sensor) and needs no purchase") }
            guard let amount = record.registration.price.multiplied(by: hours) else {
                throw MarketRefusal.amountTooLarge("\(hours) hours at \(record.registration.price) credits per hour is more than any account can hold")
            }
            if let maxCredits, amount > maxCredits {
                throw MarketRefusal.priceAboveLimit(sensor, costs: amount, limit: maxCredits)
            }
            let balance = try state.balance(buyer)
            guard balance >= amount else { throw MarketRefusal.insufficientCredits(buyer, balance: balance, needed: amount) }
            let purchase = LedgerEntry.Purchase(id: id, buyer: buyer, sensor: sensor, from: from, to: to, amount: amount, request: request)
            let entry = LedgerEntry(time: time, actor: actor, body: .purchase(purchase))
            let index = try projection.append(entry, to: ledger, in: txn)
            return PurchaseResult(record: PurchaseRecord(purchase: purchase, ledgerIndex: index), replayed: false)
        }
        return outcome
    }

    /// 128 bits of SHA-256 over (buyer, request id), hex: the same request always maps to the same purchase.
    static func purchaseID(buyer: BareJID, request: String) -> String {
        let digest = SHA256.hash(data: Array("agora-purchase\u{0}\(buyer)\u{0}\(request)".utf8))
        return Hex.encode(digest.prefix(16))
    }

    /// A client's idempotency key, checked (1…128 printable ASCII characters, no spaces), or a
    /// fresh random one when the client sent none.
    static func requestID(_ given: String?) throws(MarketRefusal) -> String {
        guard let id = given else { return randomRequestID() }
        return try validated { () throws(InvalidInput) in
            guard !id.isEmpty, id.utf8.count <= 128, id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw .malformed("request id", id, reason: "use 1…128 printable ASCII characters without spaces")
            }
            return id
        }
    }

    static func randomRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
