internal import AgoraCore
internal import AgoraStore

/// What the last `agora serve` counted, kept when it stopped: `agora status --json` shows
/// it as `lastRun`, so an operator (or a test) reads what the run stored, refused and
/// throttled without parsing its log.
///
/// Written once, at a clean stop, in the `meta` table — never while serving, so an idle
/// gateway costs no commits. A run that crashed leaves the previous run's counters (with
/// their stop time) in place. The live view of the same counters is the metrics endpoint's.
public struct LastRun: Sendable, Codable, Equatable {
    /// When it stopped (RFC 3339).
    public var stoppedAt: String
    /// The summary counters, by the dotted names the stop log line uses (`ingest.stored`,
    /// `xmpp.iq_errors`, …); values as logged.
    public var counters: [String: String]

    static let metaKey = StoreKey.text("serve.last_run")

    public init(stoppedAt: String, counters: [String: String]) {
        self.stoppedAt = stoppedAt
        self.counters = counters
    }

    /// Records these counters as the last run's, replacing the previous run's.
    func record(in gateway: Gateway) async throws {
        let encoded = try CanonicalJSON.encode(self)
        try await gateway.store.write { txn in try txn.put(gateway.store.tables.meta, Self.metaKey, encoded) }
    }

    /// The last run's counters, if a run ever stopped cleanly.
    static func read(in txn: ReadTransaction, tables: Tables) throws -> LastRun? {
        try txn.get(tables.meta, metaKey).map { try CanonicalJSON.decode(LastRun.self, from: $0) }
    }
}
