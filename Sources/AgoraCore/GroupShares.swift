/// The members of a group purchase and the credits each one pays, in the organizer's
/// order, as one ledger field: `alice@gw.example:4,bob@gw.example:3`. Two to twenty
/// distinct accounts, each share at least one credit.
public struct GroupShares: Hashable, Sendable, TextCodable {
    public let shares: [(member: BareJID, amount: Credits)]

    public static let minMembers = 2
    public static let maxMembers = 20

    public init(_ shares: [(member: BareJID, amount: Credits)]) throws(InvalidInput) {
        guard (Self.minMembers...Self.maxMembers).contains(shares.count) else {
            throw .outOfRange("members", reason: "a group purchase has \(Self.minMembers) to \(Self.maxMembers) members")
        }
        guard Set(shares.map(\.member)).count == shares.count else { throw .malformed("members", "", reason: "a member is named twice") }
        guard shares.allSatisfy({ $0.amount.value > 0 }) else { throw .outOfRange("share", reason: "every share is at least one credit") }
        self.shares = shares
    }

    public init(validating text: String) throws(InvalidInput) {
        var parsed: [(BareJID, Credits)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = part.lastIndex(of: ":"), let value = UInt64(part[part.index(after: colon)...]) else {
                throw .malformed("shares", String(text.prefix(64)), reason: "expected member:credits, comma-separated")
            }
            parsed.append((try BareJID(String(part[..<colon])), try Credits(value)))
        }
        try self.init(parsed)
    }

    public var text: String { shares.map { "\($0.member):\($0.amount.value)" }.joined(separator: ",") }

    /// The sum of the shares (nil: more than any account can hold).
    public var total: Credits? {
        var sum = Credits.zero
        for share in shares {
            guard let next = sum.adding(share.amount) else { return nil }
            sum = next
        }
        return sum
    }

    public func share(of member: BareJID) -> Credits? { shares.first { $0.member == member }?.amount }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}
