public import AgoraCore
public import AgoraLedger
internal import AgoraMarket
public import AgoraStore
internal import FoundationEssentials
internal import Synchronization

/// Stores readings durably and seals each sensor's batch with a `readings.commit` entry.
///
/// One call is one write request: for each sensor, in sensor order, the readings are
/// sorted by time (key order — interleaved sensors otherwise make LMDB writes several
/// times slower), each given a random salt (DESIGN.md "Ledger entry privacy"), hashed
/// into an RFC 9162 root, committed as a ledger entry, and written beside it: the stored
/// record is exactly the salted bytes the root hashes. Sensors that are unknown or frozen
/// are skipped and reported, the others commit. Returns once the batch is durable: only
/// then may an ingester acknowledge.
///
/// Idempotent: a reading already stored exactly (same sensor, time and canonical record,
/// salt aside) is not stored again. MQTT QoS 1 is at-least-once — a crash between a commit
/// and its PUBACK makes the broker deliver the same packs again — and sensors resend;
/// neither should double a reading. Costs one range scan per sensor over its batch's time span,
/// which for live readings (newer than anything stored) finds nothing at once.
public struct ReadingsCommitter: Sendable {
    let store: Store
    let ledger: Ledger
    let projection: Projection
    /// Sensors whose identity is revoked, cached against the count of certificate changes:
    /// recomputed (a scan of `certs`) when a certificate is issued or revoked — also by
    /// `agora ca` in another process, so a revocation takes effect at the next batch and a
    /// re-certified sensor is accepted again at once — and at least hourly, as good
    /// certificates expire.
    private let revoked = RevokedSensors()

    /// Told of every batch once it is durable, in commit order, on the committing task: it
    /// must hand the work on, not do it (the publish-subscribe service queues its fan-out).
    let onCommit: (@Sendable ([CommittedBatch]) -> Void)?

    public init(store: Store, ledger: Ledger, onCommit: (@Sendable ([CommittedBatch]) -> Void)? = nil) {
        self.store = store
        self.ledger = ledger
        self.projection = Projection(tables: store.tables)
        self.onCommit = onCommit
    }

    final class RevokedSensors: Sendable {
        private struct Cached {
            let changes: UInt64
            let at: Timestamp
            let sensors: Set<SensorID>
        }

        private let cache = Mutex<Cached?>(nil)

        func current(_ state: MarketState, now: Timestamp) throws -> Set<SensorID> {
            let changes = try state.certificateChangeCount
            if let cached = cache.withLock({ $0 }), cached.changes == changes, now.seconds - cached.at.seconds < 3600 {
                return cached.sensors
            }
            let sensors = try state.revokedSensors(now: now)
            cache.withLock { $0 = Cached(changes: changes, at: now, sensors: sensors) }
            return sensors
        }
    }

    /// What happened to each sensor's readings.
    public enum Outcome: Hashable, Sendable {
        case committed(ledgerIndex: UInt64, count: Int)
        /// Every reading was stored before (a redelivery): nothing new, no ledger entry.
        case alreadyStored(count: Int)
        case unknownSensor
        case frozen
        /// The sensor's certificates are revoked (`agora ca revoke`): its readings are refused
        /// at once, whether or not the broker has reloaded its CRL yet.
        case revoked
    }

    public func commit(_ batches: [SensorID: [Reading]], time: Timestamp = .now()) async throws -> [SensorID: Outcome] {
        let tables = store.tables
        // One salt per reading offered, drawn from the OS CSPRNG (see `Salt.random()`) before
        // the write request, so the single writer spends no time in getrandom(2) (two calls a
        // salt, ~1 µs here). Readings found already stored leave theirs unused; a retried
        // transaction reuses them, which is harmless since only one attempt commits.
        var random = SystemRandomNumberGenerator()
        let salts = (0..<batches.values.reduce(0) { $0 + $1.count }).map { _ in Salt.random(using: &random) }
        let wantBatches = onCommit != nil
        let (outcomes, sealed) = try await store.write { [ledger, projection, revoked] txn in
            let state = MarketState(tables: tables, txn: txn)
            let revokedSensors = try revoked.current(state, now: time)
            var seq = StoreKey.readU64(try txn.get(tables.meta, ReadingsKey.seqCounter) ?? []) ?? 0
            var outcomes: [SensorID: Outcome] = [:]
            var sealed: [CommittedBatch] = []
            var unusedSalts = salts[...]
            for (sensor, readings) in batches.sorted(by: { $0.key < $1.key }) where !readings.isEmpty {
                guard let record = try state.sensor(sensor) else { outcomes[sensor] = .unknownSensor; continue }
                guard !record.frozen else { outcomes[sensor] = .frozen; continue }
                guard !revokedSensors.contains(sensor) else { outcomes[sensor] = .revoked; continue }
                let sorted = readings.map { ($0, $0.canonicalBytes()) }.sorted {
                    $0.0.time != $1.0.time ? $0.0.time < $1.0.time : $0.1.lexicographicallyPrecedes($1.1)
                }
                let fresh = try Self.unseen(sorted, sensor: record.index, readings: tables.readings, in: txn)
                guard !fresh.isEmpty else { outcomes[sensor] = .alreadyStored(count: sorted.count); continue }
                // Each stored record carries its own salt, inside the bytes the batch root hashes.
                let ordered = zip(fresh, unusedSalts).map { item, salt in (item.0, item.0.canonicalBytes(salt: salt)) }
                unusedSalts = unusedSalts.dropFirst(fresh.count)
                let root = MerkleProofs.root(ofLeafHashes: ordered.map { TreeHash.leaf($0.1) }[...])
                let entry = LedgerEntry(time: time, actor: .sensor(sensor), body: .readingsCommit(.init(
                    sensor: sensor, first: Reading.formatTime(ordered.first!.0.time), last: Reading.formatTime(ordered.last!.0.time),
                    count: ordered.count, root: Data(root).base64EncodedString())))
                let index = try projection.append(entry, to: ledger, in: txn)
                let prefix = StoreKey.u64(index)
                var items: [ReadingsPage.Item] = []
                if wantBatches { items.reserveCapacity(ordered.count) }
                for (reading, bytes) in ordered {
                    let key = ReadingsKey.key(sensor: record.index, time: reading.time, seq: seq)
                    try txn.put(tables.readings, key, prefix + bytes, flags: .noOverwrite)
                    if wantBatches {
                        items.append(ReadingsPage.Item(reading: reading, record: bytes, cursor: ReadingsQuery.cursor(of: key), commit: index,
                                                       leafIndex: nil, batchSize: nil, path: nil))
                    }
                    seq += 1
                }
                try txn.put(tables.readingsCommits, ReadingsKey.commit(sensor: record.index, commit: index),
                            ReadingsKey.span(first: ordered.first!.0.time, last: ordered.last!.0.time))
                if wantBatches { sealed.append(CommittedBatch(sensor: sensor, commit: index, items: items)) }
                outcomes[sensor] = .committed(ledgerIndex: index, count: ordered.count)
            }
            try txn.put(tables.meta, ReadingsKey.seqCounter, StoreKey.u64(seq))
            return (outcomes, sealed)
        }
        if let onCommit, !sealed.isEmpty { onCommit(sealed) }
        return outcomes
    }

    /// `sorted` (by time, then unsalted bytes) without the readings already stored for
    /// `sensor` and without repeats inside the batch. Stored records are compared without
    /// their salt: a redelivered reading is the same measurement whatever salt it was given.
    static func unseen(_ sorted: [(Reading, [UInt8])], sensor: UInt32, readings: Database,
                       in txn: WriteTransaction) throws -> [(Reading, [UInt8])] {
        guard let first = sorted.first?.0.time, let last = sorted.last?.0.time else { return sorted }
        // What is stored in the batch's span, by time: the canonical bytes after the commit
        // index, unsalted. Live readings are newer than anything stored: usually nothing.
        var stored: [Int64: [[UInt8]]] = [:]
        try txn.scan(readings, from: ReadingsKey.start(sensor: sensor, time: first)) { key, value in
            guard ReadingsKey.sensor(of: key) == sensor, let time = ReadingsKey.time(of: key), time <= last else { return false }
            stored[time, default: []].append(Reading.unsalted(canonical: Array(value.dropFirst(8))))
            return true
        }
        var fresh: [(Reading, [UInt8])] = []
        fresh.reserveCapacity(sorted.count)
        for (position, item) in sorted.enumerated() {
            if position > 0, sorted[position - 1].0.time == item.0.time, sorted[position - 1].1 == item.1 { continue }
            if let same = stored[item.0.time], same.contains(item.1) { continue }
            fresh.append(item)
        }
        return fresh
    }
}
