internal import AgoraCore
internal import AgoraStore
public import CoreMetrics
public import AgoraReadings
public import Logging
public import ServiceLifecycle
internal import Synchronization
internal import FoundationEssentials

/// Drains the ingest queue into durable readings: decode each SenML pack, group by sensor,
/// commit the group in one write (`ReadingsCommitter`). Packs that fail are dropped and
/// counted; logs about them are rate-limited to one line per reason per 10 s.
public final class IngestService: Service, Sendable {
    public struct Statistics: Sendable, Equatable {
        public var packs = 0
        public var stored = 0
        public var malformed = 0
        public var badTopic = 0
        public var unknownSensor = 0
        public var frozen = 0
        /// Readings from sensors whose certificates are all revoked.
        public var revoked = 0
        public var commits = 0
        /// Readings lost because the store refused the write (logged each time).
        public var storeFailed = 0
        /// Batches held back because the store had no space (each retried until it fit).
        public var heldForSpace = 0
        /// Readings not stored because they were stored before (redeliveries, resends).
        public var duplicates = 0
    }

    let queue: IngestQueue
    let committer: ReadingsCommitter
    let logger: Logger
    let batchLimit: Int
    private let stats = Mutex(Statistics())
    private let lastLogged = Mutex([String: ContinuousClock.Instant]())
    private let lastOverflow = Mutex(0)
    /// Receive-to-durable times (ns) of the most recent packs, for percentiles.
    private let latencies = Mutex(LatencyWindow(capacity: 100_000))
    /// Reading-time-to-durable (ns) of the same packs: the earliest reading's own time to its
    /// commit. For a sensor that stamps each pack with its send time (the benchmark's
    /// publisher does) this is publish-to-durable, broker hop included; for others it is how
    /// old readings are when they become durable.
    private let ages = Mutex(LatencyWindow(capacity: 100_000))

    /// Receive-to-durable of every pack, as the `agora_ingest_durable_latency_seconds` histogram.
    private let durableTimer: CoreMetrics.Timer

    /// - Parameter metrics: where the receive-to-durable histogram goes (nothing by default).
    public init(queue: IngestQueue, committer: ReadingsCommitter, logger: Logger, batchLimit: Int = 20_000,
                metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        durableTimer = CoreMetrics.Timer(label: "agora_ingest_durable_latency_seconds", factory: metrics)
        self.queue = queue
        self.committer = committer
        self.logger = logger
        self.batchLimit = batchLimit
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// The p-th percentile (0…100) of receive-to-durable time over recent packs, in ms.
    public func latencyPercentile(_ p: Double) -> Double? { latencies.withLock { $0.percentile(p) }.map { Double($0) / 1e6 } }

    /// The p-th percentile (0…100) of reading-time-to-durable over recent packs, in ms.
    public func agePercentile(_ p: Double) -> Double? { ages.withLock { $0.percentile(p) }.map { Double($0) / 1e6 } }

    /// Drains the queue until graceful shutdown or cancellation, then drains what is left.
    ///
    /// When the queue is empty the ingester suspends until the next `offer` (or shutdown)
    /// wakes it: no polling, so an idle gateway costs nothing here. The network thread holds
    /// its acknowledgements until `settle`, so each batch is settled as soon as it is stored.
    public func run() async throws {
        let queue = self.queue
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                while true {
                    let batch = queue.drain(limit: batchLimit)
                    if batch.isEmpty {
                        // Shutdown: the MQTT client stopped first (services stop in reverse
                        // order) and everything it queued has been drained; keep nothing queued.
                        if Task.isShuttingDownGracefully || Task.isCancelled { break }
                        await queue.waitForMessages()
                        continue
                    }
                    await process(batch)
                    queue.settle(batch.count)
                }
            } onCancel: {
                queue.wakeIngester()
            }
        } onGracefulShutdown: {
            queue.wakeIngester()
        }
    }

    func process(_ batch: [IngestQueue.Message]) async {
        var bySensor: [SensorID: [Reading]] = [:]
        var counts = Statistics()
        let sensors = batch.map { message -> SensorID? in
            if case .readings(let sensor) = message.topic { sensor } else { nil }
        }
        // Each pack's earliest reading time, for the reading-time-to-durable percentiles.
        var earliest = [Int64?](repeating: nil, count: batch.count)
        for (position, (message, sensor)) in zip(batch, sensors).enumerated() {
            counts.packs += 1
            guard let sensor else {
                counts.badTopic += 1
                if case .unexpected(let name) = message.topic {
                    note("message on an unexpected topic dropped", reason: "topic", ["mqtt.topic": "\(name)"])
                }
                continue
            }
            do {
                let readings = try SenMLPack.decode(message.payload, now: message.received)
                earliest[position] = readings.lazy.map(\.time).min()
                bySensor[sensor, default: []] += readings
            } catch {
                counts.malformed += 1
                note("SenML pack dropped", reason: "senml.\(error.code.rawValue)", ["sensor.id": "\(sensor)", "error": "\(error)"])
            }
        }
        var outcomes: [SensorID: ReadingsCommitter.Outcome] = [:]
        do {
            outcomes = try await commitHoldingWhileOutOfSpace(bySensor)
        } catch let error as StoreError where error.isOutOfSpace {
            // Still no space at shutdown: what was held is lost, and counted.
            counts.storeFailed += bySensor.values.reduce(0) { $0 + $1.count }
            logger.error("readings could not be stored before shutdown: the store had no space", metadata: ["error": "\(error)"])
        } catch {
            // One sensor's readings must not sink the others: retry each sensor alone.
            logger.error("a readings batch could not be stored; retrying sensor by sensor", metadata: ["error": "\(error)"])
            for (sensor, readings) in bySensor {
                do { outcomes.merge(try await committer.commit([sensor: readings])) { $1 } } catch {
                    counts.storeFailed += readings.count
                    logger.error("readings could not be stored", metadata: ["sensor.id": "\(sensor)", "error": "\(error)", "readings.count": "\(readings.count)"])
                }
            }
        }
        do {
            for (sensor, outcome) in outcomes {
                switch outcome {
                case .committed(_, let count):
                    counts.stored += count
                    counts.duplicates += (bySensor[sensor]?.count ?? count) - count
                    counts.commits += 1
                case .alreadyStored(let count):
                    counts.duplicates += count
                case .unknownSensor:
                    counts.unknownSensor += bySensor[sensor]?.count ?? 0
                    note("readings from an unregistered sensor dropped", reason: "unknown", ["sensor.id": "\(sensor)"])
                case .frozen:
                    counts.frozen += bySensor[sensor]?.count ?? 0
                    note("readings from a frozen sensor dropped", reason: "frozen", ["sensor.id": "\(sensor)"])
                case .revoked:
                    counts.revoked += bySensor[sensor]?.count ?? 0
                    note("readings from a sensor whose certificate is revoked dropped", reason: "revoked", ["sensor.id": "\(sensor)"])
                }
            }
        }
        // Receive-to-durable for every pack whose sensor's readings committed.
        let durable = Int64((Date().timeIntervalSince1970 * 1e9).rounded())
        var received: [Int64] = [], aged: [Int64] = []
        for (position, (message, sensor)) in zip(batch, sensors).enumerated() {
            guard let sensor, let outcome = outcomes[sensor] else { continue }
            switch outcome { case .committed, .alreadyStored: break; case .unknownSensor, .frozen, .revoked: continue }
            received.append(durable - message.received)
            if let time = earliest[position] { aged.append(durable - time) }
        }
        latencies.withLock { window in for value in received { window.add(value) } }
        for value in received { durableTimer.recordNanoseconds(max(0, value)) }
        ages.withLock { window in for value in aged { window.add(value) } }
        let overflow = queue.dropped
        if overflow > lastOverflow.withLock({ $0 }) {
            lastOverflow.withLock { $0 = overflow }
            note("the ingest queue was full; packs were dropped", reason: "queue", ["ingest.queue_full": "\(overflow)"])
        }
        stats.withLock {
            $0.packs += counts.packs; $0.stored += counts.stored; $0.malformed += counts.malformed
            $0.badTopic += counts.badTopic; $0.unknownSensor += counts.unknownSensor; $0.frozen += counts.frozen
            $0.revoked += counts.revoked
            $0.commits += counts.commits; $0.storeFailed += counts.storeFailed; $0.heldForSpace += counts.heldForSpace; $0.duplicates += counts.duplicates
        }
    }

    /// Commits `bySensor`; while the store refuses writes for want of space (disk full, map
    /// at its ceiling) the batch is held and tried again every second, so readings already
    /// acknowledged to the broker survive a full disk that frees up. Meanwhile new packs wait
    /// in the bounded queue and, once it is full, are dropped and counted (`ingest.queue_full`).
    /// Gives up (rethrows) only when the service is shutting down.
    func commitHoldingWhileOutOfSpace(_ bySensor: [SensorID: [Reading]]) async throws -> [SensorID: ReadingsCommitter.Outcome] {
        var held = false
        let count = bySensor.values.reduce(0) { $0 + $1.count }
        while true {
            do {
                let outcomes = try await committer.commit(bySensor)
                if held { logger.notice("held readings stored; ingestion resumes", metadata: ["readings.count": "\(count)"]) }
                return outcomes
            } catch let error as StoreError where error.isOutOfSpace {
                if Task.isShuttingDownGracefully || Task.isCancelled { throw error }
                if !held {
                    held = true
                    stats.withLock { $0.heldForSpace += 1 }
                    logger.error("the store has no space: readings are held and retried every second",
                                 metadata: ["error": "\(error)", "readings.count": "\(count)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Logs at most once per reason every 10 seconds.
    private func note(_ message: Logger.Message, reason: String, _ metadata: Logger.Metadata) {
        let now = ContinuousClock.now
        let due = lastLogged.withLock { last -> Bool in
            if let previous = last[reason], now - previous < .seconds(10) { return false }
            last[reason] = now
            return true
        }
        if due { logger.warning(message, metadata: metadata.merging(["drop.reason": "\(reason)"]) { $1 }) }
    }
}

/// The most recent `capacity` latency samples, for percentiles without unbounded memory.
struct LatencyWindow: ~Copyable {
    private var samples: [Int64] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func add(_ value: Int64) {
        if samples.count < capacity { samples.append(value) } else { samples[next] = value; next = (next + 1) % capacity }
    }

    func percentile(_ p: Double) -> Int64? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1 // nearest-rank method
        return sorted[max(0, min(sorted.count - 1, rank))]
    }
}
