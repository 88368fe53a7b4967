internal import AgoraCore
public import AgoraStore
public import Logging
public import ServiceLifecycle

/// Prunes old readings by age and by the table's size (DESIGN.md "Readings retention").
///
/// Deletes in small write transactions (at most `chunk` readings each) so the writer keeps
/// serving ingestion in between, and never touches the ledger: the `readings.commit`
/// entries stay, so the log still shows what was recorded; a pruned reading just can no
/// longer be produced or proven.
public struct ReadingsRetention: Sendable {
    public struct Policy: Sendable, Equatable {
        /// Readings older than this are deleted; nil keeps them by age.
        public var maxAgeSeconds: Int64?
        /// When the readings table passes this many bytes, the oldest readings go first; nil: no limit.
        public var maxBytes: Int?
        public init(maxAgeSeconds: Int64? = nil, maxBytes: Int? = nil) {
            self.maxAgeSeconds = maxAgeSeconds
            self.maxBytes = maxBytes
        }
    }

    let store: Store
    let policy: Policy
    let chunk: Int

    public init(store: Store, policy: Policy, chunk: Int = 5_000) {
        self.store = store
        self.policy = policy
        self.chunk = max(1, chunk)
    }

    /// Bytes the readings table occupies (its B-tree pages).
    public func tableBytes() throws -> Int {
        try store.read { try $0.pageBytes(store.tables.readings) }
    }

    /// Runs one pass; returns how many readings were deleted.
    public func prune(now: Int64) async throws -> Int {
        var deleted = 0
        if let maxAge = policy.maxAgeSeconds {
            let cutoff = now - maxAge * 1_000_000_000
            while true {
                let removed = try await deleteOldest(limit: chunk) { time in time < cutoff }
                deleted += removed
                if removed == 0 { break }
            }
        }
        if let maxBytes = policy.maxBytes {
            // Oldest first, a chunk at a time, until under the limit (freed pages are reused, not returned).
            var guardRounds = 0
            while try tableBytes() > maxBytes, guardRounds < 10_000 {
                let removed = try await deleteOldest(limit: chunk) { _ in true }
                deleted += removed
                guardRounds += 1
                if removed == 0 { break }
            }
        }
        return deleted
    }

    /// Deletes up to `limit` readings, the oldest of each sensor first, while `condition(time)` holds.
    private func deleteOldest(limit: Int, where condition: @escaping @Sendable (Int64) -> Bool) async throws -> Int {
        let readings = store.tables.readings, commits = store.tables.readingsCommits
        return try await store.write { txn in
            // The oldest keys of each sensor, at most `share` per sensor per pass, so one chatty
            // sensor does not take the whole budget. Keys are sensor-major: scan a sensor's
            // oldest readings, then jump to the next sensor.
            let share = max(1, limit / 16)
            var keys: [[UInt8]] = []
            var from: [UInt8]? = nil
            while keys.count < limit {
                var next: [UInt8]? = nil
                var sensor: UInt32? = nil
                var taken = 0
                try txn.scan(readings, from: from) { key, _ in
                    guard let s = ReadingsKey.sensor(of: key), let time = ReadingsKey.time(of: key) else { return false }
                    if sensor == nil { sensor = s }
                    if s != sensor {
                        next = ReadingsKey.start(sensor: s, time: 0)
                        return false
                    }
                    if condition(time), taken < share, keys.count < limit {
                        keys.append(Array(key))
                        taken += 1
                        return true
                    }
                    next = s == UInt32.max ? nil : ReadingsKey.start(sensor: s + 1, time: 0)
                    return false
                }
                guard let next else { break } // end of the table
                from = next
            }
            // A batch with readings gone is no longer whole: its commit leaves the index too.
            var touched = Set<[UInt8]>()
            for key in keys {
                if let sensor = key.withUnsafeBytes({ ReadingsKey.sensor(of: $0) }), let value = try txn.get(readings, key),
                   let commit = StoreKey.readU64(value) {
                    touched.insert(ReadingsKey.commit(sensor: sensor, commit: commit))
                }
                try txn.delete(readings, key)
            }
            for key in touched { _ = try txn.delete(commits, key) }
            return keys.count
        }
    }
}

/// Runs `ReadingsRetention` every `interval` while the gateway serves.
public struct RetentionService: Service {
    let retention: ReadingsRetention
    let interval: Duration
    let logger: Logger

    public init(retention: ReadingsRetention, interval: Duration = .seconds(600), logger: Logger) {
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let deleted = try await retention.prune(now: Timestamp.now().seconds * 1_000_000_000)
                if deleted > 0 { logger.notice("old readings pruned", metadata: ["readings.deleted": "\(deleted)"]) }
            } catch {
                logger.error("pruning readings failed", metadata: ["error": "\(error)"])
            }
            // Wake for a graceful shutdown instead of sleeping through it.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
