internal import NIOConcurrencyHelpers
public import NIOCore

/// Slows down password guessing, per account and per source address.
///
/// The first `freeFailures` failures cost nothing; each further one blocks that key for
/// twice as long as the previous (1 s, 2 s, 4 s … up to `maxBackoff`). While blocked, an
/// attempt is answered `temporary-auth-failure` without looking at the password and does
/// not extend the block, so the rightful owner gets in once the back-off has passed. A
/// success clears the account's record. Shared by all event loops, behind one lock.
public final class AuthThrottle: Sendable {
    public struct Policy: Sendable {
        public var freeFailures: Int
        public var maxBackoff: TimeAmount
        public init(freeFailures: Int, maxBackoff: TimeAmount = .seconds(60)) {
            self.freeFailures = freeFailures
            self.maxBackoff = maxBackoff
        }
    }

    private struct Record {
        var failures: Int
        var blockedUntil: NIODeadline
        var lastFailure: NIODeadline
    }

    /// Records untouched this long are forgotten.
    static let memory = TimeAmount.minutes(15)
    /// Bounds the table under a scan from many addresses.
    static let maxRecords = 100_000

    private let policy: Policy
    private let records = NIOLockedValueBox<[String: Record]>([:])

    public init(policy: Policy) { self.policy = policy }

    /// When `key` may try again, or nil when it may try now.
    public func blocked(_ key: String, now: NIODeadline = .now()) -> NIODeadline? {
        records.withLockedValue { table in
            guard let record = table[key], record.blockedUntil > now else { return nil }
            return record.blockedUntil
        }
    }

    public func failed(_ key: String, now: NIODeadline = .now()) {
        records.withLockedValue { table in
            if table.count >= Self.maxRecords {
                table = table.filter { now - $0.value.lastFailure < Self.memory }
                if table.count >= Self.maxRecords { table.removeAll() }
            }
            var record = table[key] ?? Record(failures: 0, blockedUntil: now, lastFailure: now)
            if now - record.lastFailure > Self.memory { record.failures = 0 }
            record.failures += 1
            record.lastFailure = now
            let excess = record.failures - policy.freeFailures
            if excess > 0 {
                let seconds = Int64(1) << Int64(min(excess - 1, 20))
                record.blockedUntil = now + min(.seconds(seconds), policy.maxBackoff)
            }
            table[key] = record
        }
    }

    public func succeeded(_ key: String) {
        records.withLockedValue { _ = $0.removeValue(forKey: key) }
    }
}
