// Issue 21's subscriber side: sets up a gateway's accounts and purchases in-process, then
// plays N XMPP subscribers (AgoraClient, TLS + SCRAM, one connection each) of live readings
// and reports what reached them and how late. Run through Benchmarks/live/run.sh.
//
//   agora-live-bench setup STATE_DIR SENSORS SUBSCRIBERS
//   agora-live-bench watch PORT CA_FILE SENSORS SUBSCRIBERS PROOFS EXPECTED TIMEOUT_S [STALLED]
//
// Subscriber i is sub<i>@bench.example, a consumer that bought [now−1 h, now+3 h) of sensor
// s<i % SENSORS>. `watch` prints "ready" once every subscriber is subscribed and available,
// then waits until EXPECTED readings arrived in all (or TIMEOUT_S passed) and prints one
// JSON line. A reading's latency is its arrival time minus its own time (the publisher
// stamps each reading with the moment it publishes it). STALLED more subscribers (the next
// accounts) subscribe to s0 and then stop reading from their sockets.
import AgoraApp
import AgoraClient
import AgoraCore
import AgoraMarket
import AgoraXMPP
import Foundation
import Logging
import Synchronization

let arguments = CommandLine.arguments
let domain = "bench.example"
let password = "bench-password-1"
func usage() -> Never {
    print("usage: agora-live-bench setup STATE_DIR SENSORS SUBSCRIBERS | watch PORT CA_FILE SENSORS SUBSCRIBERS PROOFS EXPECTED TIMEOUT_S [STALLED]")
    exit(2)
}
guard arguments.count >= 2 else { usage() }

func nowNanoseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

/// Runs `work(i)` for i in 0..<count, `width` at a time.
func concurrently(_ count: Int, width: Int, _ work: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count {
            if i >= width { try await group.next() }
            group.addTask { try await work(i) }
        }
        try await group.waitForAll()
    }
}

switch arguments[1] {
case "setup":
    guard arguments.count == 5, let sensors = Int(arguments[3]), let subscribers = Int(arguments[4]) else { usage() }
    var logger = Logger(label: "live-bench")
    logger.logLevel = .warning
    let configuration = AgoraConfiguration(stateDirectory: arguments[2], kekFile: arguments[2] + "/agora.kek")
    _ = try await Gateway.initialize(configuration, domain: domain, name: "live-bench", environment: [:], logger: logger)
    let gateway = try Gateway.open(configuration, environment: [:], logger: logger)
    let desk = GatewayOperatorDesk(gateway: gateway)
    let owner = try BareJID("owner@\(domain)")
    try await desk.addAccount(owner, role: .owner, password: password, actor: .operator)
    try await concurrently(sensors, width: 256) { i in
        _ = try await gateway.market.registerSensor(.init(
            sensor: try SensorID("s\(i)"), owner: owner, kind: "pm25", name: "Bench \(i)", unit: "ug/m3", price: try Credits(1), frequency: 1,
            lat: nil, lon: nil, url: ""), actor: .operator)
    }
    let from = try Timestamp(seconds: Timestamp.now().seconds / 3600 * 3600 - 3600)
    let to = try Timestamp(seconds: from.seconds + 4 * 3600)
    try await concurrently(subscribers, width: 64) { i in
        let jid = try BareJID("sub\(i)@\(domain)")
        try await desk.addAccount(jid, role: .consumer, password: password, actor: .operator)
        _ = try await gateway.market.mint(try Credits(100), to: jid, memo: "bench", actor: .operator)
        _ = try await gateway.market.purchase(buyer: jid, sensor: try SensorID("s\(i % sensors)"), from: from, to: to, requestID: "bench-\(i)",
                                              actor: .account(jid))
    }
    await gateway.close()
    print("setup: \(sensors) sensors, \(subscribers) subscribers with a purchase of [\(from), \(to)) each")

case "watch":
    guard arguments.count >= 9, let port = Int(arguments[2]), let sensors = Int(arguments[4]), let subscribers = Int(arguments[5]),
          let expected = Int(arguments[7]), let timeout = Double(arguments[8]) else { usage() }
    let ca = arguments[3], proofs = arguments[6] == "true"
    let stalled = arguments.count > 9 ? Int(arguments[9]) ?? 0 : 0
    let tally = Tally()
    let deadline = ContinuousClock.now + .seconds(timeout)
    // Each subscriber in its own task, its client never leaving it; 32 log in at a time
    // (SCRAM costs the server CPU), the rest wait their turn.
    let logins = AsyncSemaphore(32)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<(subscribers + stalled) {
            group.addTask {
                let account = i
                var options = XMPPClient.Options(jid: try BareJID("sub\(account)@\(domain)"), password: password, caFile: ca)
                options.server = ("127.0.0.1", port)
                options.timeout = .seconds(120)
                await logins.wait()
                let client: XMPPClient
                do {
                    client = try await XMPPClient.connect(options)
                    let watch = LiveWatch(client: client, sensor: try SensorID("s\(i < subscribers ? account % sensors : 0)"))
                    try await watch.subscribe(proofs: proofs)
                } catch {
                    logins.signal()
                    throw error
                }
                logins.signal()
                tally.subscribed()
                if i >= subscribers {
                    client.pauseReading()   // a reader that stalls: it never reads again
                    while ContinuousClock.now < deadline, !tally.done(expected) { try? await Task.sleep(for: .milliseconds(100)) }
                    await client.close()   // its subscription stays: see below for the others'
                    return
                }
                let watch = LiveWatch(client: client, sensor: try SensorID("s\(account % sensors)"))
                // Until everything expected arrived, or nothing has for 20 s (what the gateway
                // dropped for a slow subscriber never comes). A timeout closes the connection.
                while ContinuousClock.now < deadline, !tally.done(expected) {
                    do {
                        switch try await watch.next(timeout: .seconds(20), verifier: nil) {
                        case .readings(_, let items):
                            let arrived = nowNanoseconds()
                            tally.add(items.compactMap { try? Reading.parseTime($0.t) }.map { arrived - $0 }, at: arrived)
                        case .gap(let items, _, _):
                            tally.gap(items)
                        case .ended:
                            break
                        }
                    } catch {
                        break
                    }
                }
                // The next run starts without this run's subscriptions (kept, they would make
                // the gateway store items for an account gone offline).
                try? await watch.unsubscribe()
                await client.close()
            }
        }
        while tally.subscribedCount < subscribers + stalled { try await Task.sleep(for: .milliseconds(20)) }
        print("ready")
        fflush(nil)
        try await group.waitForAll()
    }
    print(tally.summary(subscribers: subscribers, sensors: sensors, proofs: proofs, stalled: stalled))

default:
    usage()
}

/// What reached the subscribers, from every subscriber's task.
final class Tally: Sendable {
    private struct State {
        var subscribed = 0
        var readings = 0
        var items = 0
        var latencies: [Int64] = []
        var first: Int64?
        var last: Int64?
        var gaps = 0
        var gapItems = 0
    }
    private let state = Mutex(State())

    var started: Bool { state.withLock { $0.first != nil } }
    func gap(_ items: Int) { state.withLock { $0.gaps += 1; $0.gapItems += items } }

    func subscribed() { state.withLock { $0.subscribed += 1 } }
    var subscribedCount: Int { state.withLock { $0.subscribed } }
    func done(_ expected: Int) -> Bool { state.withLock { $0.readings >= expected } }

    func add(_ latencies: [Int64], at arrived: Int64) {
        state.withLock { state in
            state.readings += latencies.count
            state.items += 1
            state.latencies += latencies
            if state.first == nil { state.first = arrived }
            state.last = arrived
        }
    }

    func summary(subscribers: Int, sensors: Int, proofs: Bool, stalled: Int) -> String {
        state.withLock { state in
            let sorted = state.latencies.sorted()
            func percentile(_ p: Double) -> String {
                sorted.isEmpty ? "-1" : String(format: "%.2f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6)
            }
            let span = Double((state.last ?? 0) - (state.first ?? 0)) / 1e9
            return #"{"subscribers":\#(subscribers),"sensors":\#(sensors),"proofs":\#(proofs),"stalled":\#(stalled),"readings":\#(state.readings),"items":\#(state.items),"seconds":\#(String(format: "%.3f", span)),"latency_p50_ms":\#(percentile(0.5)),"latency_p99_ms":\#(percentile(0.99)),"latency_max_ms":\#(percentile(1)),"gap_markers":\#(state.gaps),"items_dropped":\#(state.gapItems)}"#
        }
    }
}

/// At most n tasks past `wait` at once.
final class AsyncSemaphore: Sendable {
    private let state: Mutex<(free: Int, waiting: [CheckedContinuation<Void, Never>])>
    init(_ n: Int) { state = Mutex((n, [])) }
    func wait() async {
        await withCheckedContinuation { continuation in
            let go = state.withLock { state -> Bool in
                if state.free > 0 { state.free -= 1; return true }
                state.waiting.append(continuation)
                return false
            }
            if go { continuation.resume() }
        }
    }
    func signal() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty { state.free += 1; return nil }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
