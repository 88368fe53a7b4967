internal import AgoraCore
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
        public var commits = 0
        /// Readings lost because the store refused the write (logged each time).
        public var storeFailed = 0
    }

    let queue: IngestQueue
    let committer: ReadingsCommitter
    let prefix: String
    let logger: Logger
    let batchLimit: Int
    private let stats = Mutex(Statistics())
    private let lastLogged = Mutex([String: ContinuousClock.Instant]())
    private let lastOverflow = Mutex(0)
    /// Receive-to-durable times (ns) of the most recent packs, for percentiles.
    private let latencies = Mutex(LatencyWindow(capacity: 100_000))

    public init(queue: IngestQueue, committer: ReadingsCommitter, prefix: String, logger: Logger, batchLimit: Int = 20_000) {
        self.queue = queue
        self.committer = committer
        self.prefix = prefix
        self.logger = logger
        self.batchLimit = batchLimit
    }

    public var statistics: Statistics { stats.withLock { $0 } }

    /// The p-th percentile (0…100) of receive-to-durable time over recent packs, in ms.
    public func latencyPercentile(_ p: Double) -> Double? { latencies.withLock { $0.percentile(p) }.map { Double($0) / 1e6 } }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let batch = queue.drain(limit: batchLimit)
            if batch.isEmpty {
                try? await Task.sleep(for: .milliseconds(5))
                continue
            }
            await process(batch)
        }
        // Shutdown: the MQTT client stopped first (services stop in reverse order); keep nothing queued.
        while case let batch = queue.drain(limit: batchLimit), !batch.isEmpty { await process(batch) }
    }

    /// `<prefix>/sensors/<id>/senml` → the sensor id.
    func sensor(fromTopic topic: String) -> SensorID? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        let base = prefix.split(separator: "/").count
        guard parts.count == base + 3, parts[..<base].joined(separator: "/") == prefix,
              parts[base] == "sensors", parts[base + 2] == "senml" else { return nil }
        return try? SensorID(String(parts[base + 1]))
    }

    func process(_ batch: [IngestQueue.Message]) async {
        var bySensor: [SensorID: [Reading]] = [:]
        var counts = Statistics()
        let sensors = batch.map { sensor(fromTopic: $0.topic) }
        for (message, sensor) in zip(batch, sensors) {
            counts.packs += 1
            guard let sensor else {
                counts.badTopic += 1
                note("message on an unexpected topic dropped", reason: "topic", ["mqtt.topic": "\(message.topic)"])
                continue
            }
            do {
                bySensor[sensor, default: []] += try SenMLPack.decode(message.payload, now: message.received)
            } catch {
                counts.malformed += 1
                note("SenML pack dropped", reason: "senml.\(error.code.rawValue)", ["sensor.id": "\(sensor)", "error": "\(error)"])
            }
        }
        var outcomes: [SensorID: ReadingsCommitter.Outcome] = [:]
        do {
            outcomes = try await committer.commit(bySensor)
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
                    counts.commits += 1
                case .unknownSensor:
                    counts.unknownSensor += bySensor[sensor]?.count ?? 0
                    note("readings from an unregistered sensor dropped", reason: "unknown", ["sensor.id": "\(sensor)"])
                case .frozen:
                    counts.frozen += bySensor[sensor]?.count ?? 0
                    note("readings from a frozen sensor dropped", reason: "frozen", ["sensor.id": "\(sensor)"])
                }
            }
        }
        // Receive-to-durable for every pack whose sensor's readings committed.
        let durable = Int64((Date().timeIntervalSince1970 * 1e9).rounded())
        latencies.withLock { window in
            for (message, sensor) in zip(batch, sensors) {
                if let sensor, case .committed? = outcomes[sensor] { window.add(durable - message.received) }
            }
        }
        let overflow = queue.dropped
        if overflow > lastOverflow.withLock({ $0 }) {
            lastOverflow.withLock { $0 = overflow }
            note("the ingest queue was full; packs were dropped", reason: "queue", ["ingest.queue_full": "\(overflow)"])
        }
        stats.withLock {
            $0.packs += counts.packs; $0.stored += counts.stored; $0.malformed += counts.malformed
            $0.badTopic += counts.badTopic; $0.unknownSensor += counts.unknownSensor; $0.frozen += counts.frozen
            $0.commits += counts.commits; $0.storeFailed += counts.storeFailed
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
