public import AgoraCore
public import AgoraXMPP
internal import Synchronization

/// How much one account may make the gateway store through its IQs: every ledger entry is
/// permanent, so without a bound one account could grow the ledger without limit or cost
/// (200 certificates from one CSR in 0.1 s, each a kilobyte forever).
///
/// Two buckets per account: ledger writes (purchases, transfers, price changes) at a
/// sustained rate with a burst, and certificates per day. Refused requests get
/// `resource-constraint` with the limit in the text, and are counted with the other IQ
/// errors. In memory: a restart refills them, which no account can cause.
public final class AccountQuotas: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Ledger-appending requests per account: at once, then per minute (0: unlimited).
        public var ledgerWritesBurst = 30
        public var ledgerWritesPerMinute = 60
        /// Certificates an account may have signed per day (0: unlimited).
        public var certificatesPerDay = 3
        public init() {}
    }

    enum Kind: Hashable { case ledgerWrite, certificate }

    private struct Key: Hashable {
        let account: BareJID
        let kind: Kind
    }

    public let limits: Limits
    private let buckets = Mutex<[Key: TokenBucket]>([:])

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// nil if `account` may append one more ledger entry now, else the error to answer.
    public func ledgerWrite(by account: BareJID, now: ContinuousClock.Instant = .now) -> StanzaError? {
        guard limits.ledgerWritesPerMinute > 0 else { return nil }
        return take(Key(account: account, kind: .ledgerWrite), burst: limits.ledgerWritesBurst,
                    perSecond: Double(limits.ledgerWritesPerMinute) / 60, now: now)
            ? nil : StanzaError(.resourceConstraint, "at most \(limits.ledgerWritesPerMinute) purchases, transfers, price changes and ratings per minute per account; try again shortly")
    }

    /// nil if `account` may have one more certificate signed now, else the error to answer.
    public func certificate(for account: BareJID, now: ContinuousClock.Instant = .now) -> StanzaError? {
        guard limits.certificatesPerDay > 0 else { return nil }
        return take(Key(account: account, kind: .certificate), burst: limits.certificatesPerDay,
                    perSecond: Double(limits.certificatesPerDay) / 86_400, now: now)
            ? nil : StanzaError(.resourceConstraint, "at most \(limits.certificatesPerDay) certificates per account per day")
    }

    /// Gives back the certificate token of a CSR that was refused before anything was stored.
    public func refundCertificate(for account: BareJID, now: ContinuousClock.Instant = .now) {
        buckets.withLock { buckets in buckets[Key(account: account, kind: .certificate)]?.give(now: now) }
    }

    private func take(_ key: Key, burst: Int, perSecond: Double, now: ContinuousClock.Instant) -> Bool {
        buckets.withLock { buckets in
            // Full buckets say nothing a new one would not: forget them, so the table stays
            // as small as the set of accounts that were busy lately.
            if buckets.count > 10_000 { buckets = buckets.filter { !$0.value.isFull(now: now) } }
            var bucket = buckets[key] ?? TokenBucket(capacity: max(burst, 1), perSecond: perSecond, now: now)
            let taken = bucket.take(now: now)
            buckets[key] = bucket
            return taken
        }
    }
}
