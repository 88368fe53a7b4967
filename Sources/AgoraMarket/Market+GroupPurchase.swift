public import AgoraCore
internal import Crypto

/// Group purchases: members of a group (the thesis's publish–invite–join rooms) buy one
/// window of a sensor's data together. Each pays its share into an escrow; when the last
/// share is paid the escrow goes to the sensor's owner and every member may read the
/// window like any buyer; if the deadline passes first, every paid share goes back. Each
/// step is a ledger entry with its receipt.
extension Market {
    /// Longest a group may take to pay (a week).
    public static let maxGroupDeadlineSeconds: Int64 = 7 * 24 * 3600

    public struct GroupOpened: Sendable {
        public let record: GroupRecord
        public let replayed: Bool
    }

    /// Opens a group purchase of `[from, to)` of `sensor` among `members`. Shares are given,
    /// or split evenly (the first members pay the remainder, a credit each). The organizer
    /// is the actor; it need not be a member (an owner may propose the purchase of its own
    /// sensor's data), but no member may own the sensor. Idempotent by `requestID`.
    public func openGroupPurchase(organizer: BareJID, sensor: SensorID, from: Timestamp, to: Timestamp, deadline: Timestamp,
                                  members: [BareJID], shares: [Credits]? = nil, room: String = "", requestID: String?,
                                  actor: LedgerActor, sealing: Bool = false) async throws -> GroupOpened {
        guard from < to else { throw MarketRefusal.invalidWindow("the window must end after it starts (from \(from), to \(to))") }
        guard to.seconds - from.seconds <= Self.maxWindowSeconds else { throw MarketRefusal.invalidWindow("a purchase covers at most 366 days") }
        let now = clock()
        guard deadline > now, deadline.seconds - now.seconds <= Self.maxGroupDeadlineSeconds else {
            throw MarketRefusal.invalidWindow("the deadline must come within a week from now")
        }
        guard room.utf8.count <= 1023 else { throw MarketRefusal.invalid(.malformed("room", String(room.prefix(32)), reason: "longer than 1023 bytes")) }
        if let shares, shares.count != members.count { throw MarketRefusal.invalid(.malformed("shares", "", reason: "one share per member")) }
        let request = try Self.requestID(requestID)
        let id = Self.groupID(organizer: organizer, request: request)
        let hours = UInt64((to.seconds - from.seconds + 3599) / 3600)
        let tables = store.tables
        return try await store.write(sealing: sealing) { [ledger, projection] txn -> GroupOpened in
            let state = MarketState(tables: tables, txn: txn)
            if actor != .account(organizer) { try Self.requireOperator(actor, state, to: "open a group purchase on another account's behalf") }
            if let existing = try state.group(id) {
                guard existing.open.sensor == sensor, existing.open.from == from, existing.open.to == to else { throw MarketRefusal.requestConflict(request) }
                return GroupOpened(record: existing, replayed: true)
            }
            guard try state.account(organizer) != nil else { throw MarketRefusal.unknownAccount(organizer) }
            guard let record = try state.sensor(sensor) else { throw MarketRefusal.unknownSensor(sensor) }
            guard !record.frozen else { throw MarketRefusal.sensorFrozen(sensor) }
            for member in members {
                guard try state.account(member) != nil else { throw MarketRefusal.unknownAccount(member) }
                guard member != record.owner else { throw MarketRefusal.forbidden("\(member) owns sensor \(sensor) and needs no share of it") }
            }
            guard let amount = record.registration.price.multiplied(by: hours) else {
                throw MarketRefusal.amountTooLarge("\(hours) hours at \(record.registration.price) credits per hour is more than any account can hold")
            }
            let split = try shares ?? Self.evenShares(amount, among: members.count)
            let grouped = try Self.validated { () throws(InvalidInput) in try GroupShares(Array(zip(members, split)).map { ($0.0, $0.1) }) }
            guard grouped.total == amount else {
                throw MarketRefusal.invalid(.malformed("shares", grouped.text, reason: "the shares must add up to the window's price, \(amount) credits"))
            }
            let open = LedgerEntry.GroupOpen(id: id, organizer: organizer, room: room, sensor: sensor, from: from, to: to, amount: amount,
                                             deadline: deadline, shares: grouped, request: request)
            let index = try projection.append(LedgerEntry(time: now, actor: actor, body: .groupOpen(open)), to: ledger, in: txn)
            return GroupOpened(record: GroupRecord(open: open, paid: [:], state: .open, openIndex: index, closeIndex: nil), replayed: false)
        }
    }

    public struct GroupPayment: Sendable {
        /// Ledger index of the member's `group.pay` (its earlier one when it had paid already).
        public let payIndex: UInt64
        /// Ledger index of `group.complete` when this payment was the last.
        public let completeIndex: UInt64?
        public let record: GroupRecord
        public let replayed: Bool
    }

    /// `member` pays its share; the last share completes the purchase in the same commit.
    /// Paying again returns the first payment and charges nothing.
    public func payGroupShare(_ id: String, member: BareJID, actor: LedgerActor, sealing: Bool = false) async throws -> GroupPayment {
        let tables = store.tables
        let time = clock()
        return try await store.write(sealing: sealing) { [ledger, projection] txn -> GroupPayment in
            let state = MarketState(tables: tables, txn: txn)
            if actor != .account(member) { try Self.requireOperator(actor, state, to: "pay a share on another account's behalf") }
            // Nobody learns of a group it is not in.
            guard let record = try state.group(id), let share = record.open.shares.share(of: member) else {
                throw MarketRefusal.forbidden("\(member) is not a member of group purchase \(id)")
            }
            if let paid = record.paid[member.description] {
                return GroupPayment(payIndex: paid, completeIndex: record.state == .complete ? record.closeIndex : nil, record: record, replayed: true)
            }
            guard record.state == .open else { throw MarketRefusal.forbidden("group purchase \(id) has ended (\(record.state.rawValue))") }
            guard record.open.deadline > time else { throw MarketRefusal.forbidden("group purchase \(id)'s deadline has passed; its shares are being refunded") }
            let balance = try state.balance(member)
            guard balance >= share else { throw MarketRefusal.insufficientCredits(member, balance: balance, needed: share) }
            let payIndex = try projection.append(LedgerEntry(time: time, actor: actor, body: .groupPay(.init(id: id, member: member, amount: share))),
                                                 to: ledger, in: txn)
            var completeIndex: UInt64?
            if let after = try state.group(id), after.everyonePaid {
                guard let sensor = try state.sensor(after.open.sensor), !sensor.frozen else {
                    return GroupPayment(payIndex: payIndex, completeIndex: nil, record: after, replayed: false)  // frozen: refunded at the deadline
                }
                completeIndex = try projection.append(LedgerEntry(time: time, actor: .gateway, body: .groupComplete(.init(id: id))), to: ledger, in: txn)
            }
            return GroupPayment(payIndex: payIndex, completeIndex: completeIndex, record: try state.group(id) ?? record, replayed: false)
        }
    }

    /// Refunds every open group whose deadline has passed; returns their ids.
    @discardableResult
    public func refundExpiredGroups() async throws -> [String] {
        let tables = store.tables
        let time = clock()
        // Most sweeps find nothing: a read, and a write only when there is something to refund.
        guard try !read({ try $0.expiredGroups(at: time) }).isEmpty else { return [] }
        return try await store.write { [ledger, projection] txn -> [String] in
            let state = MarketState(tables: tables, txn: txn)
            var refunded: [String] = []
            for group in try state.expiredGroups(at: time).prefix(100) {
                try projection.append(LedgerEntry(time: time, actor: .gateway, body: .groupRefund(.init(id: group.open.id))), to: ledger, in: txn)
                refunded.append(group.open.id)
            }
            return refunded
        }
    }

    /// `amount` split over `count` members: equal parts, the first `amount mod count` a credit more.
    static func evenShares(_ amount: Credits, among count: Int) throws(MarketRefusal) -> [Credits] {
        guard count > 0 else { throw MarketRefusal.invalid(.outOfRange("members", reason: "a group purchase has members")) }
        let base = amount.value / UInt64(count), extra = Int(amount.value % UInt64(count))
        return try (0..<count).map { index throws(MarketRefusal) in
            try Self.validated { () throws(InvalidInput) in try Credits(base + (index < extra ? 1 : 0)) }
        }
    }

    static func groupID(organizer: BareJID, request: String) -> String {
        let digest = SHA256.hash(data: Array("agora-group\u{0}\(organizer)\u{0}\(request)".utf8))
        return Hex.encode(digest.prefix(16))
    }
}
