// Issue 23's measurements: a trust score query at 10^5 ratings over 10^3 sensors (goal < 1 ms)
// and the scores of every sensor for a dependability-sorted search (goal < 5 ms), beside the
// baseline the issue names ("no full ledger scan per query"): the same scores computed by
// reading the ledger's entries. Run through Benchmarks/trust/run.sh (release build).
import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraReadings
import AgoraStore
import AgoraTrust
import Crypto
import Foundation
import Logging

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { print("usage: agora-trust-bench DIR [RATINGS] [SENSORS]"); exit(2) }
let directory = arguments[1]
let ratingCount = arguments.count > 2 ? Int(arguments[2])! : 100_000
let sensorCount = arguments.count > 3 ? Int(arguments[3])! : 1_000
let buyerCount = 2_000
var logger = Logger(label: "trust-bench")
logger.logLevel = .warning

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func percentile(_ samples: [Double], _ p: Double) -> Double { samples.sorted()[min(samples.count - 1, Int(Double(samples.count) * p))] }

let path = directory + "/trust.mdb"
try? FileManager.default.removeItem(atPath: path)
try? FileManager.default.removeItem(atPath: path + "-lock")
let store = try Store(path: path, options: .init(mapSize: 1 << 30, maxMapSize: 16 << 30),
                      writerOptions: .init(maxBatch: 512, window: .microseconds(1000), quietGap: .microseconds(100)), logger: logger)
let signer = try NoteSigner(name: "bench.example/agora", privateKey: Curve25519.Signing.PrivateKey())
let ledger = Ledger(tables: store.tables, origin: "bench.example/agora", signer: signer)
ledger.installCheckpointHook(on: store.writer)
let market = Market(store: store, ledger: ledger)
let genesis = LedgerEntry(time: .now(), actor: .gateway, body: .genesis(.init(origin: "bench.example/agora", name: "bench",
                                                                              logKey: signer.verifier.description, checkpointInterval: 1000)))
_ = try await store.write { txn in try ledger.initialize(genesis: genesis, in: txn) }
// Raters count at once, so every rating is read and weighed (the costliest case).
let policy = TrustPolicy(raterMaturity: 0)

/// Runs `work(i)` for i in 0..<count, 512 at a time (the writer's batch).
func concurrently(_ count: Int, _ work: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count {
            if i >= 512 { try await group.next() }
            group.addTask { try await work(i) }
        }
        try await group.waitForAll()
    }
}

let started = ContinuousClock.now
let owners = try (0..<50).map { try BareJID("owner\($0)@bench.example") }
let buyers = try (0..<buyerCount).map { try BareJID("buyer\($0)@bench.example") }
let sensors = try (0..<sensorCount).map { try SensorID("s\($0)") }
try await concurrently(owners.count) { _ = try await market.openAccount(owners[$0], role: .owner, actor: .operator) }
try await concurrently(buyers.count) { i in
    _ = try await market.openAccount(buyers[i], role: .consumer, actor: .operator)
    _ = try await market.mint(try Credits(1_000_000), to: buyers[i], memo: "", actor: .operator)
}
try await concurrently(sensors.count) { i in
    _ = try await market.registerSensor(.init(sensor: sensors[i], owner: owners[i % owners.count], kind: "pm25", name: "", unit: "ug/m3",
                                              price: try Credits(1), frequency: 60, lat: nil, lon: nil, url: ""), actor: .operator)
}
try await concurrently(ratingCount) { i in
    var random = SystemRandomNumberGenerator()
    let buyer = buyers[i % buyers.count], sensor = sensors[Int.random(in: 0..<sensors.count, using: &random)]
    let start = try Timestamp(seconds: 1_795_000_000 + Int64(i) * 3600)
    let bought = try await market.purchase(buyer: buyer, sensor: sensor, from: start, to: try Timestamp(seconds: start.seconds + 3600),
                                           requestID: "r\(i)", actor: .account(buyer))
    _ = try await market.rate(purchase: bought.record.purchase.id, satisfaction: Int.random(in: 0...1000, using: &random),
                              weight: Int.random(in: 1...5, using: &random), comment: "", actor: .account(buyer), policy: policy)
}
let size = try store.read { try ledger.size(in: $0) }
print("# store: \(sensorCount) sensors, \(ratingCount) purchases each rated, \(size) ledger entries, built in \(Int(seconds(ContinuousClock.now - started))) s")

// 1. One score query: a random (viewer, sensor), in its own read transaction, as the IQ does,
//    first without the cache (every rating read), then with it (the gateway's way).
let now = Timestamp.now()
var uncachedSamples: [Double] = []
for _ in 0..<2_000 {
    let viewer = buyers.randomElement()!, sensor = sensors.randomElement()!
    let t0 = ContinuousClock.now
    _ = try market.read { try $0.scores(ofSensor: sensor, for: viewer, policy: policy, now: now) }
    uncachedSamples.append(seconds(ContinuousClock.now - t0) * 1e6)
}
print(String(format: "score_query_uncached_us p50 %.1f p99 %.1f (every rating of the sensor read)",
             percentile(uncachedSamples, 0.5), percentile(uncachedSamples, 0.99)))
let cache = market.trustCache
var querySamples: [Double] = []
for _ in 0..<10_000 {
    let viewer = buyers.randomElement()!, sensor = sensors.randomElement()!
    let t0 = ContinuousClock.now
    let scores = try market.read { try $0.scores(ofSensor: sensor, for: viewer, policy: policy, now: now, cache: cache) }
    querySamples.append(seconds(ContinuousClock.now - t0) * 1e6)
    precondition(scores.ratings >= 0)
}
print(String(format: "score_query_us p50 %.1f p99 %.1f (goal < 1000; %.0f ratings per sensor on average)",
             percentile(querySamples, 0.5), percentile(querySamples, 0.99), Double(ratingCount) / Double(sensorCount)))

// 2. What a dependability-sorted search computes: every sensor's scores for one viewer, then the order.
var searchSamples: [Double] = []
for _ in 0..<50 {
    let viewer = buyers.randomElement()!
    let t0 = ContinuousClock.now
    let ranked = try market.read { state in
        try state.sensors().map { (id: $0.id, d: try state.scores(ofSensor: $0.id, for: viewer, policy: policy, now: now, cache: cache).dependability.value) }
    }.sorted { $0.d > $1.d }
    searchSamples.append(seconds(ContinuousClock.now - t0) * 1e3)
    precondition(ranked.count == sensorCount)
}
print(String(format: "sorted_search_scores_ms p50 %.2f p99 %.2f (goal < 5; %d sensors)",
             percentile(searchSamples, 0.5), percentile(searchSamples, 0.99), sensorCount))
// Of which: listing the sensors (their rows decoded through the market's row cache).
var listSamples: [Double] = []
for _ in 0..<50 {
    let t0 = ContinuousClock.now
    let listed = try market.read { try $0.sensors() }.count
    precondition(listed == sensorCount)
    listSamples.append(seconds(ContinuousClock.now - t0) * 1e3)
}
print(String(format: "  of which listing the sensors_ms p50 %.2f", percentile(listSamples, 0.5)))

// Baseline: one sensor's ratings found by reading the ledger's entries (what an index avoids).
var scanSamples: [Double] = []
for _ in 0..<5 {
    let sensor = sensors.randomElement()!, viewer = buyers.randomElement()!
    let t0 = ContinuousClock.now
    var own: [Interaction] = [], others: [Interaction] = []
    try store.read { txn in
        for index in 0..<size {
            guard case .rating(let rating) = try LedgerEntry(decoding: try ledger.entry(at: index, in: txn)).body, rating.sensor == sensor else { continue }
            let interaction = Interaction(satisfaction: Double(rating.satisfaction) / 1000, weight: Double(rating.weight), time: now.seconds)
            if rating.rater == viewer { own.append(interaction) } else { others.append(interaction) }
        }
    }
    _ = (TrustFigures(own, fading: policy.fading, now: now.seconds), TrustFigures(others, fading: policy.fading, now: now.seconds))
    scanSamples.append(seconds(ContinuousClock.now - t0) * 1e3)
}
let scan = percentile(scanSamples, 0.5)
print(String(format: "baseline_ledger_scan_query_ms p50 %.1f (every entry decoded); scan / indexed query: %.0fx, scan / cached query: %.0fx",
             scan, scan * 1000 / percentile(uncachedSamples, 0.5), scan * 1000 / percentile(querySamples, 0.5)))
// 3. A sealing round (`ReliabilitySealer.sealAll`): sensors that delivered one reading a minute
//    for the last 24 hours, committed an hour per batch with the hour's own time as arrival.
let sealingSensors = min(200, sensorCount)
let committer = ReadingsCommitter(store: store, ledger: ledger)
let day: Int64 = 86_400
let readingsStart = now.seconds - day
// Registered two days ago (a market whose clock says so), so their windows hold the day.
let registeredEarlier = try Timestamp(seconds: now.seconds - 2 * day)
let pastMarket = Market(store: store, ledger: ledger, clock: { registeredEarlier })
let sealed = try (0..<sealingSensors).map { try SensorID("sealed\($0)") }
try await concurrently(sealingSensors) { i in
    _ = try await pastMarket.registerSensor(.init(sensor: sealed[i], owner: owners[i % owners.count], kind: "pm25", name: "", unit: "ug/m3",
                                                  price: try Credits(1), frequency: 60, lat: nil, lon: nil, url: ""), actor: .operator)
}
let fill = ContinuousClock.now
for hour in 0..<24 {
    let hourStart = readingsStart + Int64(hour) * 3600
    var batches: [SensorID: [Reading]] = [:]
    for sensor in sealed {
        batches[sensor] = (0..<60).map { Reading(name: "pm25", time: (hourStart + Int64($0) * 60) * 1_000_000_000, unit: "ug/m3", value: .number(Double($0))) }
    }
    _ = try await committer.commit(batches, time: try Timestamp(seconds: hourStart + 3600))
}
print("# \(sealingSensors) sensors × 1 440 readings (a day at one a minute) stored in \(Int(seconds(ContinuousClock.now - fill))) s")
// Every sensor is measured; the 1 000 registered moments ago are not measurable yet and skipped.
let sealer = ReliabilitySealer(market: market)
let sealStart = ContinuousClock.now
let round = try await sealer.sealAll(now: now.seconds + 60)
let sealSeconds = seconds(ContinuousClock.now - sealStart)
print(String(format: "sealing_round_s %.2f for %d sensors sealed (%d failed): %.1f ms per sensor with a day of readings",
             sealSeconds, round.sealed, round.failed.count, sealSeconds * 1000 / Double(max(1, round.sealed))))
store.close()
