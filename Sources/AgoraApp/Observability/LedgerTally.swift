internal import AgoraCore
internal import AgoraLedger
internal import AgoraStore
internal import Synchronization

/// Totals read from the log itself — purchases, credits spent on them, certificates issued
/// and revoked — kept up to date by reading only the entries appended since the last call.
///
/// The log is the one record that holds all of these across restarts, and counting from it
/// makes the metrics agree with any replay. A call reads at most `entriesPerCall` entries,
/// so the first scrapes after a start on a long log catch up over several calls instead
/// of one slow answer.
final class LedgerTally: Sendable {
    struct Totals: Sendable, Equatable {
        var through: UInt64 = 0
        var purchases = 0
        var creditsSpent: UInt64 = 0
        var certificatesIssued = 0
        var certificatesRevoked = 0
        /// Every entry of the ledger as of the last update was read.
        var complete = false
    }

    private let totals = Mutex(Totals())
    private let entriesPerCall: UInt64

    init(entriesPerCall: UInt64 = 20_000) { self.entriesPerCall = entriesPerCall }

    /// The totals over the entries read so far, after reading up to `entriesPerCall` more.
    func update(ledger: Ledger, in txn: ReadTransaction) -> Totals {
        var current = totals.withLock { $0 }
        guard let size = try? ledger.size(in: txn) else { return current }
        let end = min(size, current.through + entriesPerCall)
        while current.through < end {
            defer { current.through += 1 }
            guard let bytes = try? ledger.entry(at: current.through, in: txn),
                  let entry = try? LedgerEntry(decoding: bytes) else { continue }
            switch entry.body {
            case .purchase(let purchase):
                current.purchases += 1
                let (sum, overflow) = current.creditsSpent.addingReportingOverflow(purchase.amount.value)
                current.creditsSpent = overflow ? .max : sum
            case .certIssue: current.certificatesIssued += 1
            case .certRevoke: current.certificatesRevoked += 1
            default: break
            }
        }
        current.complete = current.through == size
        let result = current
        // Two scrapes at once both read; the one that read further wins.
        return totals.withLock {
            if result.through >= $0.through { $0 = result }
            return $0
        }
    }
}
