public import AgoraCore
public import AgoraStore

/// "May X read sensor S at time t?" — the one rule every read of sensor data obeys.
///
/// Yes for the sensor's owner, for operators, and for a buyer with a purchase whose
/// window `[from, to)` covers t. Everyone else is refused with a coded reason.
public enum AccessDecision: Hashable, Sendable {
    case owner
    case `operator`
    case purchased(purchaseID: String)
    case denied(AccessDenial)

    public var isAllowed: Bool { if case .denied = self { return false }; return true }
}

public enum AccessPolicy {
    public static func mayRead(_ reader: BareJID, sensor id: SensorID, at time: Timestamp,
                               in txn: ReadTransaction, tables: Tables) throws -> AccessDecision {
        let state = MarketState(tables: tables, txn: txn)
        guard let sensor = try state.sensor(id) else { return .denied(.unknownSensor(id)) }
        if sensor.owner == reader { return .owner }
        guard let account = try state.account(reader) else { return .denied(.unknownAccount(reader)) }
        if account.role == .operator { return .operator }
        // Grants of (sensor, reader) sorted by window start; any with from ≤ t < to allows.
        var found: String?
        let prefix = MarketKeys.grantPrefix(sensor: id, buyer: reader).bytes
        try txn.scan(tables.grants, prefix: prefix) { key, value in
            guard let from = StoreKey.readU64(key, at: prefix.count), from <= UInt64(time.seconds) else { return false }
            if let to = StoreKey.readU64(value), UInt64(time.seconds) < to {
                found = String(decoding: value.dropFirst(8), as: UTF8.self)
                return false
            }
            return true
        }
        if let found { return .purchased(purchaseID: found) }
        return .denied(.notPurchased("\(reader) has no purchase of sensor \(id) covering \(time)"))
    }
}

extension AccessPolicy {
    /// "May X see ledger entry E?" — the entries (and receipts, which carry them) an account
    /// may fetch over XMPP. Hashes, checkpoints and proofs are for everyone; an entry's content
    /// names accounts and what they bought, so it goes to operators, and otherwise only to the
    /// accounts it concerns: its actor, an account it names, or the owner of the sensor it is
    /// about (a seller sees the purchases of its data, the owner its readings commitments).
    public static func mayReadEntry(_ entry: LedgerEntry, reader: BareJID, in txn: ReadTransaction, tables: Tables) throws -> AccessDecision {
        let state = MarketState(tables: tables, txn: txn)
        guard let account = try state.account(reader) else { return .denied(.unknownAccount(reader)) }
        if account.role == .operator { return .operator }
        if entry.actor == .account(reader) { return .owner }
        func owns(_ sensor: SensorID) throws -> Bool { try state.sensor(sensor)?.owner == reader }
        let concerned: Bool
        switch entry.body {
        case .genesis, .caAdopt: concerned = true
        case .accountOpen(let open), .accountRole(let open): concerned = open.jid == reader
        case .creditMint(let mint): concerned = mint.to == reader
        case .creditTransfer(let transfer): concerned = transfer.from == reader || transfer.to == reader
        case .sensorRegister(let registration): concerned = registration.owner == reader
        case .sensorUpdate(let update): concerned = try update.owner == reader || owns(update.sensor)
        case .sensorFreeze(let change), .sensorUnfreeze(let change): concerned = try owns(change.sensor)
        case .purchase(let purchase): concerned = try purchase.buyer == reader || owns(purchase.sensor)
        case .certIssue(let issue): concerned = issue.subject == reader.description
        case .certRevoke: concerned = false
        case .readingsCommit(let commit): concerned = try owns(commit.sensor)
        case .rating(let rating): concerned = try rating.rater == reader || rating.owner == reader || owns(rating.sensor)
        case .reliability: concerned = true // the gateway's public measure of a sensor, for every buyer to check
        case .groupOpen(let open): concerned = try open.organizer == reader || open.shares.share(of: reader) != nil || owns(open.sensor)
        case .groupPay(let pay): concerned = try groupConcerns(pay.id, reader, state)
        case .groupComplete(let close), .groupRefund(let close): concerned = try groupConcerns(close.id, reader, state)
        }
        return concerned ? .owner : .denied(.notConcerned("ledger entry of type \(entry.body.type) does not concern \(reader)"))
    }
}

extension AccessPolicy {
    /// A group purchase's entries concern its organizer, its members and the sensor's owner.
    static func groupConcerns(_ id: String, _ reader: BareJID, _ state: MarketState) throws -> Bool {
        guard let open = try state.group(id)?.open else { return false }
        return try open.organizer == reader || open.shares.share(of: reader) != nil || state.sensor(open.sensor)?.owner == reader
    }

    /// "May X read sensor S over the whole window [from, to)?" — owner and operators always;
    /// a buyer when its purchases of S, taken together, cover the window.
    public static func mayRead(_ reader: BareJID, sensor id: SensorID, from: Timestamp, to: Timestamp,
                               in txn: ReadTransaction, tables: Tables) throws -> AccessDecision {
        let state = MarketState(tables: tables, txn: txn)
        guard let sensor = try state.sensor(id) else { return .denied(.unknownSensor(id)) }
        if sensor.owner == reader { return .owner }
        guard let account = try state.account(reader) else { return .denied(.unknownAccount(reader)) }
        if account.role == .operator { return .operator }
        // Grants sorted by window start: extend the covered prefix of [from, to) while they touch it.
        var covered = UInt64(max(from.seconds, 0))
        let end = UInt64(max(to.seconds, 0))
        var purchase: String?
        let prefix = MarketKeys.grantPrefix(sensor: id, buyer: reader).bytes
        try txn.scan(tables.grants, prefix: prefix) { key, value in
            guard let start = StoreKey.readU64(key, at: prefix.count), start <= covered else { return false }
            if let stop = StoreKey.readU64(value), stop > covered {
                covered = stop
                purchase = String(decoding: value.dropFirst(8), as: UTF8.self)
            }
            return covered < end
        }
        if covered >= end, let purchase { return .purchased(purchaseID: purchase) }
        return .denied(.notPurchased("\(reader) has not bought \(id) for all of [\(from), \(to)); buy the window first (urn:agora:market:1 purchase)"))
    }
}

/// What a reader may receive of a sensor's readings as they arrive (live delivery): all of
/// them, or those inside its bought windows.
public enum ReadableWindows: Hashable, Sendable {
    /// The owner or an operator.
    case all
    /// A buyer's windows `[from, to)` in seconds since the epoch, by start; empty for an
    /// account with no purchase of the sensor.
    case windows([Range<Int64>])
    case denied(AccessDenial)

    /// Whether a reading at `nanoseconds` may be delivered.
    public func allows(nanoseconds time: Int64) -> Bool {
        switch self {
        case .all: return true
        case .denied: return false
        case .windows(let windows):
            let second = time >= 0 ? time / 1_000_000_000 : (time - 999_999_999) / 1_000_000_000
            return windows.contains { $0.contains(second) }
        }
    }

    /// Whether anything may still be delivered at or after `now` (seconds): a window that
    /// has not ended. Readings are delivered by their own time, so a window that ended is no
    /// use to a live subscription even if late readings of it still arrive.
    public func hasFuture(after now: Int64) -> Bool {
        switch self {
        case .all: return true
        case .denied: return false
        case .windows(let windows): return windows.contains { $0.upperBound > now }
        }
    }
}

extension AccessPolicy {
    /// The same rule as `mayRead`, as the windows a reader may receive live.
    public static func readableWindows(_ reader: BareJID, sensor id: SensorID, in txn: ReadTransaction, tables: Tables) throws -> ReadableWindows {
        let state = MarketState(tables: tables, txn: txn)
        guard let sensor = try state.sensor(id) else { return .denied(.unknownSensor(id)) }
        if sensor.owner == reader { return .all }
        guard let account = try state.account(reader) else { return .denied(.unknownAccount(reader)) }
        if account.role == .operator { return .all }
        var windows: [Range<Int64>] = []
        let prefix = MarketKeys.grantPrefix(sensor: id, buyer: reader).bytes
        try txn.scan(tables.grants, prefix: prefix) { key, value in
            if let from = StoreKey.readU64(key, at: prefix.count), let to = StoreKey.readU64(value), from < to,
               let start = Int64(exactly: from), let end = Int64(exactly: to) {
                windows.append(start..<end)
            }
            return true
        }
        return .windows(windows)
    }
}
