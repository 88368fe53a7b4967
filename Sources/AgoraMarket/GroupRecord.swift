public import AgoraCore
internal import AgoraStore

/// Row of `groups` (key: group id): a group purchase's terms, the shares paid into its
/// escrow so far, and how it ended. Written only by `Projection`, from `group.*` entries.
public struct GroupRecord: Hashable, Sendable, Codable {
    public enum State: String, Sendable, Codable { case open, complete, refunded }

    public var open: LedgerEntry.GroupOpen
    /// Members who paid, with the ledger index of their `group.pay`.
    public var paid: [String: UInt64]
    public var state: State
    /// Ledger index of `group.open`, and of `group.complete` or `group.refund` once it ended.
    public var openIndex: UInt64
    public var closeIndex: UInt64?

    public func hasPaid(_ member: BareJID) -> Bool { paid[member.description] != nil }
    public var everyonePaid: Bool { open.shares.shares.allSatisfy { hasPaid($0.member) } }
    /// Credits held in escrow now.
    public var escrow: UInt64 {
        guard state == .open else { return 0 }
        return open.shares.shares.reduce(0) { $0 + (hasPaid($1.member) ? $1.amount.value : 0) }
    }
}

extension MarketKeys {
    static func group(_ id: String) -> [UInt8] { StoreKey.text(id) }
    /// A group's escrow is a row of `balances` under a key no account can have (no `@`):
    /// the credits it holds stay in the sum of balances, so minted = Σ balances still holds.
    static func escrow(_ id: String) -> [UInt8] { StoreKey.text("escrow:" + id) }
}

extension MarketState {
    public func group(_ id: String) throws -> GroupRecord? {
        try txn.get(tables.groups, MarketKeys.group(id)).map { try MarketKeys.decode(GroupRecord.self, $0, table: "groups") }
    }

    /// Open groups whose deadline is at or before `now`: what the sweep refunds.
    public func expiredGroups(at now: Timestamp) throws -> [GroupRecord] {
        var expired: [GroupRecord] = []
        try txn.scan(tables.groups) { _, value in
            let record = try MarketKeys.decode(GroupRecord.self, Array(value), table: "groups")
            if record.state == .open, record.open.deadline <= now { expired.append(record) }
            return true
        }
        return expired
    }
}
