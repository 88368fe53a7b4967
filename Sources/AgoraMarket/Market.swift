public import AgoraCore
public import AgoraLedger
public import AgoraStore
internal import Crypto

/// The state machine behind every change of accounts, credits, sensors and purchases.
///
/// Each operation runs in one write request of the group-commit writer: read the facts,
/// apply the rule, and either refuse (throwing `MarketRefusal`, nothing written) or
/// append the ledger entry and apply it to the tables through `Projection` in the same
/// transaction. The call returns once that transaction is durable.
///
/// Where the rules live: `Market+Accounts.swift` (accounts, credits),
/// `Market+Sensors.swift` (sensors), `Market+Purchase.swift` (purchases),
/// `Market+Certificates.swift` (what the CA issued and revoked),
/// `SensorPairing.swift` (pairing invitations and their codes),
/// `AccessPolicy.swift` (who may read what).
public final class Market: Sendable {
    public let store: Store
    public let ledger: Ledger
    let projection: Projection
    let clock: @Sendable () -> Timestamp
    /// Per-sensor scoring bases for searches and score queries (see `TrustScoreCache`).
    public let trustCache = TrustScoreCache()

    public init(store: Store, ledger: Ledger, clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }) {
        self.store = store
        self.ledger = ledger
        self.projection = Projection(tables: store.tables)
        self.clock = clock
    }

    /// A change the market accepted: the entry and where it sits in the ledger.
    public struct Accepted: Sendable, Hashable {
        public let index: UInt64
        public let entry: LedgerEntry
    }

    /// Runs `decide` in a write request; when it returns an entry, appends and applies it.
    /// `then` runs in the same transaction after the entry is applied (e.g. regenerating the CRL).
    func commit(_ decide: @escaping @Sendable (MarketState) throws -> LedgerEntry,
                then: (@Sendable (WriteTransaction) throws -> Void)? = nil) async throws -> Accepted {
        let tables = store.tables
        return try await store.write { [ledger, projection] txn in
            let entry = try decide(MarketState(tables: tables, txn: txn))
            let index = try projection.append(entry, to: ledger, in: txn)
            try then?(txn)
            return Accepted(index: index, entry: entry)
        }
    }

    /// Reads market state in one short read transaction.
    public func read<T>(_ body: (MarketState) throws -> T) throws -> T {
        let tables = store.tables
        return try store.read { txn in try body(MarketState(tables: tables, txn: txn)) }
    }

    static func requireOperator(_ actor: LedgerActor, _ state: MarketState, to action: String) throws {
        guard try state.isOperator(actor) else {
            throw MarketRefusal.forbidden("only operators may \(action); \(actor) is not one")
        }
    }

    static func validated<T>(_ make: () throws(InvalidInput) -> T) throws(MarketRefusal) -> T {
        do { return try make() } catch { throw .invalid(error) }
    }
}
