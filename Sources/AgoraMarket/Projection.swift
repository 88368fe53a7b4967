public import AgoraCore
public import AgoraLedger
public import AgoraStore

/// How each ledger entry changes the tables: the only code that writes market rows.
///
/// The live market appends an entry and then applies it here; replay applies the same
/// bytes to an empty scratch store. Because both go through this one function, the
/// tables are a pure function of the ledger, which `ledger verify --replay` checks.
/// Entries are trusted to be valid (the market checked them), but arithmetic is still
/// checked, so a forged ledger fails replay instead of producing wrong balances.
public struct Projection: Sendable {
    let tables: Tables

    public init(tables: Tables) { self.tables = tables }

    /// Appends `entry` to `ledger` and applies it, in `txn`: how every accepted change is
    /// recorded. Returns its ledger index.
    @discardableResult
    public func append(_ entry: LedgerEntry, to ledger: Ledger, in txn: WriteTransaction) throws -> UInt64 {
        let encoded = try entry.encoded()
        let index = try ledger.append(encoded: encoded, in: txn)
        try apply(entry, encoded: encoded, index: index, in: txn)
        return index
    }

    /// Applies `entry` (whose exact ledger bytes are `encoded`) at ledger `index`.
    /// Counts one more change of `certs` (see `MarketKeys.certificateChanges`).
    static func countCertificateChange(in txn: WriteTransaction, meta: Database) throws {
        let changes = StoreKey.readU64(try txn.get(meta, MarketKeys.certificateChanges) ?? []) ?? 0
        try txn.put(meta, MarketKeys.certificateChanges, StoreKey.u64(changes + 1))
    }

    public func apply(_ entry: LedgerEntry, encoded: [UInt8], index: UInt64, in txn: WriteTransaction) throws {
        let state = MarketState(tables: tables, txn: txn)
        switch entry.body {
        case .genesis, .caAdopt, .readingsCommit:
            break // the log's and the CA's identity, and readings commitments: no ledger-derived rows
        case .accountOpen(let open):
            let record = AccountRecord(jid: open.jid, role: open.role, opened: entry.time)
            try txn.put(tables.accounts, MarketKeys.account(open.jid), MarketKeys.encode(record), flags: .noOverwrite)
            try setBalance(open.jid, .zero, txn)
        case .accountRole(let change):
            guard var record = try state.account(change.jid) else { throw inconsistent(index, "role change for unknown \(change.jid)") }
            record.role = change.role
            try txn.put(tables.accounts, MarketKeys.account(change.jid), MarketKeys.encode(record))
        case .creditMint(let mint):
            guard let minted = try state.totalMinted().adding(mint.amount),
                  let balance = try state.balance(mint.to).adding(mint.amount)
            else { throw inconsistent(index, "mint passes the credit ceiling") }
            try txn.put(tables.meta, MarketKeys.minted, StoreKey.u64(minted.value))
            try setBalance(mint.to, balance, txn)
        case .creditTransfer(let transfer):
            try move(transfer.amount, from: transfer.from, to: transfer.to, state: state, index: index, txn: txn)
        case .sensorRegister(let registration):
            let next = UInt32(MarketKeys.u64(try txn.get(tables.meta, MarketKeys.nextSensorIndex)))
            let record = SensorRecord(registration: registration, index: next, frozen: false, frozenReason: "", registered: entry.time)
            try txn.put(tables.sensors, MarketKeys.sensor(registration.sensor), MarketKeys.encode(record), flags: .noOverwrite)
            try txn.put(tables.meta, MarketKeys.nextSensorIndex, StoreKey.u64(UInt64(next) + 1))
        case .sensorUpdate(let update):
            guard var record = try state.sensor(update.sensor) else { throw inconsistent(index, "update of unknown sensor \(update.sensor)") }
            if let price = update.price { record.registration.price = price }
            if let url = update.url { record.registration.url = url }
            if let owner = update.owner { record.registration.owner = owner }
            if let name = update.name { record.registration.name = name }
            if let lat = update.lat { record.registration.lat = lat }
            if let lon = update.lon { record.registration.lon = lon }
            try txn.put(tables.sensors, MarketKeys.sensor(update.sensor), MarketKeys.encode(record))
        case .sensorFreeze(let change), .sensorUnfreeze(let change):
            guard var record = try state.sensor(change.sensor) else { throw inconsistent(index, "status change of unknown sensor \(change.sensor)") }
            if case .sensorFreeze = entry.body {
                record.frozen = true
                record.frozenReason = change.reason
            } else {
                record.frozen = false
                record.frozenReason = ""
            }
            try txn.put(tables.sensors, MarketKeys.sensor(change.sensor), MarketKeys.encode(record))
        case .purchase(let purchase):
            guard let sensor = try state.sensor(purchase.sensor) else { throw inconsistent(index, "purchase of unknown sensor \(purchase.sensor)") }
            try move(purchase.amount, from: purchase.buyer, to: sensor.owner, state: state, index: index, txn: txn)
            try txn.put(tables.purchases, MarketKeys.purchase(purchase.id), PurchaseRecord.row(index: index, entry: encoded), flags: .noOverwrite)
            var grant = StoreKey.u64(UInt64(purchase.to.seconds))
            grant.append(contentsOf: Array(purchase.id.utf8))
            try txn.put(tables.grants, MarketKeys.grant(sensor: purchase.sensor, buyer: purchase.buyer, from: purchase.from, purchase: purchase.id), grant, flags: .noOverwrite)
            try touchTrust(of: purchase.sensor, in: txn)
        case .certIssue(let issue):
            let record = CertificateRecord(issue: issue, issued: entry.time, ledgerIndex: index, revoked: false, revocationReason: "", revokedAt: nil)
            try txn.put(tables.certs, MarketKeys.certificate(issue.serial), MarketKeys.encode(record), flags: .noOverwrite)
            try Self.countCertificateChange(in: txn, meta: tables.meta)
        case .rating(let rating):
            try applyRating(rating, time: entry.time, index: index, txn: txn)
            try touchTrust(of: rating.sensor, in: txn)
        case .reliability(let measured):
            guard try state.sensor(measured.sensor) != nil else { throw inconsistent(index, "reliability of unknown sensor \(measured.sensor)") }
            guard (0...1000).contains(measured.reliability) else { throw inconsistent(index, "reliability of \(measured.sensor) out of range") }
            try txn.put(tables.ratings, MarketKeys.reliability(sensor: measured.sensor),
                        SealedReliability(ledgerIndex: index, thousandths: measured.reliability, until: measured.until.seconds).row)
            try touchTrust(of: measured.sensor, in: txn)
        case .groupOpen(let open):
            guard try state.sensor(open.sensor) != nil else { throw inconsistent(index, "group purchase of unknown sensor \(open.sensor)") }
            guard open.shares.total == open.amount else { throw inconsistent(index, "group \(open.id)'s shares do not add up to its amount") }
            let record = GroupRecord(open: open, paid: [:], state: .open, openIndex: index, closeIndex: nil)
            try txn.put(tables.groups, MarketKeys.group(open.id), MarketKeys.encode(record), flags: .noOverwrite)
        case .groupPay(let pay):
            guard var record = try state.group(pay.id), record.state == .open else { throw inconsistent(index, "payment into group \(pay.id), which is not open") }
            guard record.open.shares.share(of: pay.member) == pay.amount, !record.hasPaid(pay.member) else {
                throw inconsistent(index, "payment into group \(pay.id) by \(pay.member) is not its share, or is paid twice")
            }
            guard let debited = try state.balance(pay.member).subtracting(pay.amount) else { throw inconsistent(index, "\(pay.member) would be overdrawn") }
            try setBalance(pay.member, debited, txn)
            try setEscrow(pay.id, record.escrow + pay.amount.value, txn)
            record.paid[pay.member.description] = index
            try txn.put(tables.groups, MarketKeys.group(pay.id), MarketKeys.encode(record))
        case .groupComplete(let close):
            guard var record = try state.group(close.id), record.state == .open, record.everyonePaid else {
                throw inconsistent(index, "group \(close.id) completed before every share was paid")
            }
            guard let sensor = try state.sensor(record.open.sensor),
                  let credited = try state.balance(sensor.owner).adding(record.open.amount) else { throw inconsistent(index, "group \(close.id)'s owner cannot be paid") }
            try setEscrow(close.id, 0, txn)
            try setBalance(sensor.owner, credited, txn)
            for share in record.open.shares.shares {
                var grant = StoreKey.u64(UInt64(record.open.to.seconds))
                grant.append(contentsOf: Array(close.id.utf8))
                try txn.put(tables.grants, MarketKeys.grant(sensor: record.open.sensor, buyer: share.member, from: record.open.from, purchase: close.id),
                            grant, flags: .noOverwrite)
            }
            record.state = .complete
            record.closeIndex = index
            try txn.put(tables.groups, MarketKeys.group(close.id), MarketKeys.encode(record))
            try touchTrust(of: record.open.sensor, in: txn)
        case .groupRefund(let close):
            guard var record = try state.group(close.id), record.state == .open else { throw inconsistent(index, "refund of group \(close.id), which is not open") }
            for share in record.open.shares.shares where record.hasPaid(share.member) {
                guard let credited = try state.balance(share.member).adding(share.amount) else { throw inconsistent(index, "refund to \(share.member) passes the ceiling") }
                try setBalance(share.member, credited, txn)
            }
            try setEscrow(close.id, 0, txn)
            record.state = .refunded
            record.closeIndex = index
            try txn.put(tables.groups, MarketKeys.group(close.id), MarketKeys.encode(record))
        case .certRevoke(let revocation):
            guard var record = try state.certificate(revocation.serial) else { throw inconsistent(index, "revocation of unknown certificate \(revocation.serial)") }
            record.revoked = true
            record.revocationReason = revocation.reason
            record.revokedAt = entry.time
            try txn.put(tables.certs, MarketKeys.certificate(revocation.serial), MarketKeys.encode(record))
            try Self.countCertificateChange(in: txn, meta: tables.meta)
        }
    }

    /// A first rating writes its row under its three keys; a revision rewrites them (same
    /// keys: the time first rated stays) with the new figures.
    private func applyRating(_ rating: LedgerEntry.Rating, time: Timestamp, index: UInt64, txn: WriteTransaction) throws {
        let state = MarketState(tables: tables, txn: txn)
        // The market checked all of this; a forged ledger must fail replay, not trap or skew.
        guard (0...1000).contains(rating.satisfaction), (1...255).contains(rating.weight) else {
            throw inconsistent(index, "rating of purchase \(rating.purchase) has figures out of range")
        }
        let existing = try state.rating(ofPurchase: rating.purchase)
        switch (rating.revision, existing) {
        case (0, nil): break
        case (1, .some(let first)) where first.revision == 0: break
        default: throw inconsistent(index, "rating revision \(rating.revision) of purchase \(rating.purchase) does not follow its ratings")
        }
        guard let purchase = try state.purchase(rating.purchase)?.purchase, purchase.buyer == rating.rater, purchase.sensor == rating.sensor else {
            throw inconsistent(index, "rating of purchase \(rating.purchase) by someone who did not make it, or of another sensor")
        }
        if existing == nil, try state.sensor(rating.sensor)?.owner != rating.owner {
            throw inconsistent(index, "rating of purchase \(rating.purchase) names an owner the sensor does not have")
        }
        let firstRated = existing?.firstRated ?? time.seconds
        if existing != nil {
            let keys = [MarketKeys.ratingPrefix(sensor: rating.sensor), MarketKeys.ratingPrefix(owner: rating.owner)]
                .map { MarketKeys.rating(prefix: $0, firstRated: firstRated, purchase: rating.purchase) }
            guard try keys.allSatisfy({ try txn.contains(tables.ratings, $0) }) else {
                throw inconsistent(index, "revision of purchase \(rating.purchase)'s rating names another sensor or owner than the rating")
            }
        }
        let row = RatingRecord(ledgerIndex: index, firstRated: firstRated, satisfaction: rating.satisfaction, weight: rating.weight,
                               revision: rating.revision, rater: rating.rater).row
        try txn.put(tables.ratings, MarketKeys.rating(purchase: rating.purchase), row)
        for prefix in [MarketKeys.ratingPrefix(sensor: rating.sensor), MarketKeys.ratingPrefix(owner: rating.owner)] {
            try txn.put(tables.ratings, MarketKeys.rating(prefix: prefix, firstRated: firstRated, purchase: rating.purchase), row)
        }
    }

    private func move(_ amount: Credits, from: BareJID, to: BareJID, state: MarketState, index: UInt64, txn: WriteTransaction) throws {
        guard let debited = try state.balance(from).subtracting(amount) else { throw inconsistent(index, "\(from) would be overdrawn") }
        try setBalance(from, debited, txn)
        guard let credited = try state.balance(to).adding(amount) else { throw inconsistent(index, "balance of \(to) passes the ceiling") }
        try setBalance(to, credited, txn)
    }

    /// A group's escrow row; gone when it holds nothing.
    private func setEscrow(_ id: String, _ amount: UInt64, _ txn: WriteTransaction) throws {
        if amount == 0 { _ = try txn.delete(tables.balances, MarketKeys.escrow(id)) } else {
            try txn.put(tables.balances, MarketKeys.escrow(id), StoreKey.u64(amount))
        }
    }

    private func setBalance(_ jid: BareJID, _ amount: Credits, _ txn: WriteTransaction) throws {
        try txn.put(tables.balances, MarketKeys.account(jid), StoreKey.u64(amount.value))
    }

    private func inconsistent(_ index: UInt64, _ what: String) -> StoreError {
        .corrupted("ledger entry \(index) cannot be applied: \(what)")
    }
}
