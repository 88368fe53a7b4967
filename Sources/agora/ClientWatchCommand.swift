import AgoraClient
import AgoraCore
import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `agora client watch`: live readings (XEP-0060), printed as they arrive.
extension Client {
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a sensor's readings as they arrive (XEP-0060), one line each; reconnects and fills gaps.",
            discussion: """
                Subscribes this account to the sensor's node on pubsub.<domain>: the owner and operators \
                receive every reading, a buyer those inside the windows it bought. Lines go to stdout as \
                CSV (time,name,unit,value) or JSON lines, ready to pipe into a time-series database's \
                import tool; notes go to stderr. After a lost connection, or when the gateway says a slow \
                connection made it drop items, the missing span is fetched with urn:agora:readings:1 \
                (verified) and printed, each reading once.
                """)
        @OptionGroup var connection: Connection
        @Argument(help: "The sensor id.") var sensor: String
        @Flag(help: "Ask for proofs with every item and verify each reading before printing it.") var proofs = false
        @Option(help: "csv or json (JSON lines).") var format = "csv"
        @Option(help: "Stop after this many readings (0: never).") var count = 0

        struct Line: Encodable {
            let sensor: String
            let commit: UInt64
            let t: String, n: String, u: String?, v: Double?, vs: String?, vb: Bool?, vd: String?
        }

        func run() async throws {
            let id: SensorID
            do { id = try SensorID(sensor) } catch { throw ValidationError("\(error)") }
            guard format == "csv" || format == "json" else { throw ValidationError("--format is csv or json") }
            var printer = Printer(sensor: sensor, json: format == "json", limit: count)
            if !printer.json { print("time,name,unit,value") }
            var backoff = 1
            var resumeFrom: String?
            // Read once: a password on stdin is not there for the second connection.
            let options = try connection.options()
            while !printer.done {
                do {
                    let client = try await XMPPClient.connect(options)
                    do {
                        let pin = try await connection.pin(client)
                        let watch = LiveWatch(client: client, sensor: id)
                        try await watch.subscribe(proofs: proofs)
                        FileHandleOutput.standardError("watching \(watch.node) on \(watch.service)\(proofs ? ", verifying every reading" : "")")
                        backoff = 1
                        if let from = resumeFrom {
                            try await fill(client, id, from: from, to: Self.now(), pin: pin, into: &printer)
                        }
                        while !printer.done {
                            switch try await watch.next(timeout: .seconds(365 * 86_400), verifier: proofs ? pin.verifier : nil) {
                            case .readings(_, let items): printer.print(items)
                            case .gap(let items, let from, let to):
                                FileHandleOutput.standardError("the gateway dropped \(items) items for this slow connection; fetching \(from) – \(to)")
                                try await fill(client, id, from: from, to: to, pin: pin, into: &printer, inclusive: true)
                            case .ended:
                                FileHandleOutput.standardError("the subscription ended: the purchased windows are over")
                                printer.done = true
                            }
                        }
                    } catch {
                        await client.close()
                        throw error
                    }
                    await client.close()
                } catch let error as XMPPClientError {
                    // Refusals (forbidden, no such node), failed proofs and bad credentials are
                    // not cured by reconnecting; a lost connection is.
                    switch error {
                    case .unreachable, .streamClosed, .timedOut: break
                    default: throw error
                    }
                    resumeFrom = printer.newest ?? resumeFrom ?? Self.now()
                    FileHandleOutput.standardError("connection lost (\(error)); reconnecting in \(backoff) s")
                    try await Task.sleep(for: .seconds(backoff))
                    backoff = min(backoff * 2, 60)
                }
            }
        }

        /// Prints the verified readings of [from, to) (`inclusive`: [from, to]) not printed yet.
        func fill(_ client: XMPPClient, _ id: SensorID, from: String, to: String, pin: LogKeyPin, into printer: inout Printer, inclusive: Bool = false) async throws {
            var end = to
            if inclusive, let time = try? Reading.parseTime(to) { end = Reading.formatTime(time + 1) }
            guard from < end else { return }
            do {
                let result = try await VerifiedReadings(client: client).read(sensor: id, from: from, to: end, verifier: pin.verifier, keepProofs: false)
                printer.print(result.items)
            } catch {
                if case .refused(_, let text) = error {
                    FileHandleOutput.standardError("could not fetch \(from) – \(end): \(text)")
                } else {
                    throw error
                }
            }
        }

        static func now() -> String { Reading.formatTime(Timestamp.now().seconds * 1_000_000_000) }

        /// Prints each reading once (by time and name), and remembers the newest time printed.
        struct Printer {
            let sensor: String
            let json: Bool
            let limit: Int
            var printed = 0
            var done = false
            var newest: String?
            var seen = Set<String>()
            var order: [String] = []

            mutating func print(_ items: [VerifiedReadings.Item]) {
                for item in items where !done {
                    let key = item.t + "\u{0}" + item.n
                    guard seen.insert(key).inserted else { continue }
                    order.append(key)
                    if order.count > 100_000 { seen.subtract(order.prefix(50_000)); order.removeFirst(50_000) }
                    if json {
                        Swift.print((try? JSONOutput.line(Line(sensor: sensor, commit: item.commit, t: item.t, n: item.n, u: item.u, v: item.v,
                                                               vs: item.vs, vb: item.vb, vd: item.vd))) ?? "")
                    } else {
                        let value = item.v.map { String($0) } ?? item.vs ?? item.vb.map { $0 ? "true" : "false" } ?? item.vd ?? ""
                        Swift.print("\(item.t),\(Read.csv(item.n)),\(Read.csv(item.u ?? "")),\(Read.csv(value))")
                    }
                    fflush(nil)   // every line at once: a pipe reader sees readings as they arrive
                    if newest.map({ item.t > $0 }) ?? true { newest = item.t }
                    printed += 1
                    if limit > 0, printed >= limit { done = true }
                }
            }
        }
    }
}
