import Foundation

/// A real Mosquitto for a test, on a configuration that `agora broker-config` wrote for two
/// listeners, `port` (certificates) and `port + 1` (pairing), on free ports. A start returns
/// once the broker has bound both listeners; the test waits for clients with
/// `waitUntilSubscribed` and `waitForGateway`, never a fixed time.
///
/// The broker runs a copy of the configuration with Mosquitto's default log types plus
/// `subscribe`, so its log names every subscription it has made ("CLIENT QOS FILTER", written
/// after the subscription exists). It starts with an empty signal mask: children of the test
/// runner inherit its blocked signals, and a test may send the broker the SIGHUP that reloads it.
public final class Mosquitto {
    /// The certificate listener; the pairing listener is `port + 1`.
    public let port: Int
    public var pairingPort: Int { port + 1 }
    /// The log, appended to by every start.
    public let logPath: String
    public private(set) var process: Process
    private let configuration: String
    private let verbose: Bool
    /// Where this start of the broker begins in the log.
    private var offset: UInt64

    /// Starts a broker on free ports: `configure(port)` writes the configuration for listeners
    /// on `port` and `port + 1` (e.g. `agora broker-config`) and returns the path of the
    /// `mosquitto.conf` to run. When a port turns out to be taken, configures and starts again
    /// on others.
    /// - Parameter verbose: `mosquitto -v`: the log names every packet and connection.
    public init(log: String, verbose: Bool = false, configure: (_ port: Int) throws -> String) throws {
        logPath = log
        self.verbose = verbose
        (port, configuration, process, offset) = try withFreePorts(2) { port in
            let configuration = try Self.withSubscriptionLog(try configure(port))
            let (process, offset) = try Self.start(configuration, log: log, verbose: verbose)
            return (port, configuration, process, offset)
        }
    }

    /// `agora broker-config --out DIRECTORY --port-tls PORT --port-pair PORT+1 OPTIONS` and a
    /// broker on it.
    public convenience init(cli: AgoraCLI, out directory: String, options: [String] = [], log: String, verbose: Bool = false) throws {
        try self.init(log: log, verbose: verbose) { port in
            try cli.ok(["broker-config", "--out", directory, "--port-tls", String(port), "--port-pair", String(port + 1)] + options)
            return directory + "/mosquitto.conf"
        }
    }

    deinit { stop() }

    /// All the broker has logged, over every start.
    public var log: String { fileText(logPath) }
    /// What the broker logged since it last started.
    public var logSinceStart: String { fileText(logPath, from: offset) }

    /// SIGKILL and reap.
    public func stop() { stopHard(process) }

    /// Kills the broker and starts it again on the same ports (the clients know them), once
    /// it is listening again.
    public func restart() throws {
        stop()
        (process, offset) = try Self.start(configuration, log: logPath, verbose: verbose)
    }

    /// Until the broker has made `client`'s subscription to `filter` (since it last started).
    public func waitUntilSubscribed(_ client: String, to filter: String, timeout: Double = 20) throws {
        try waitUntil("the broker has subscribed \(client) to \(filter)", timeout: timeout, details: { self.tail }) {
            try self.stillRunning()
            return Self.hasSubscription(self.logSinceStart, client: client, filter: filter)
        }
    }

    /// Until `agora serve` is connected to this broker (since it last started) and subscribed
    /// to readings and pairing requests: a message published from now on reaches the gateway.
    public func waitForGateway(timeout: Double = 20) throws {
        try waitUntil("the gateway has connected and subscribed", timeout: timeout, details: { self.tail }) {
            try self.stillRunning()
            return self.gatewayIsSubscribed
        }
    }

    /// Whether `agora serve` has connected to this broker (since it last started) and the
    /// broker has made its subscriptions to readings and pairing requests.
    public var gatewayIsSubscribed: Bool {
        let log = logSinceStart
        return log.contains(" as \(Self.gatewayClientID) ")
            && Self.gatewayFilters.allSatisfy { Self.hasSubscription(log, client: Self.gatewayClientID, filter: $0) }
    }

    /// The gateway's client id and subscriptions (`BrokerConfiguration`, `GatewayTopic`, with
    /// the default prefix).
    public static let gatewayClientID = "agora:gateway"
    public static let gatewayFilters = ["agora/sensors/+/senml", "agora/pair/+/request"]

    private var tail: String { "--- mosquitto log ---\n" + String(log.suffix(3000)) }

    private func stillRunning() throws {
        guard process.isRunning else { throw WaitTimedOut(description: "mosquitto exited (\(process.terminationStatus))\n\(tail)") }
    }

    /// A subscription line: "TIME: CLIENT QOS FILTER".
    private static func hasSubscription(_ log: String, client: String, filter: String) -> Bool {
        log.split(separator: "\n").contains { line in
            guard let rest = line.split(separator: ": ", maxSplits: 1).last else { return false }
            let fields = rest.split(separator: " ")
            return fields.count == 3 && fields[0] == client && Int(fields[1]) != nil && fields[2] == filter
        }
    }

    /// A copy of `configuration` beside it that also logs subscriptions. Naming any
    /// `log_type` drops Mosquitto's defaults, so they are named too.
    private static func withSubscriptionLog(_ configuration: String) throws -> String {
        let copy = URL(fileURLWithPath: configuration).deletingPathExtension().path + "-test.conf"
        let logging = """

            # Added by the test (Tests/TestSupport/Mosquitto.swift): Mosquitto's default log types,
            # and every subscription, so the test can wait until a client is subscribed.
            log_type error
            log_type warning
            log_type notice
            log_type information
            log_type subscribe

            """
        try (try String(contentsOfFile: configuration, encoding: .utf8) + logging).write(toFile: copy, atomically: true, encoding: .utf8)
        return copy
    }

    /// Spawns the broker and waits until it has bound every listener: it logs "running" only
    /// after that. A port in use throws `PortTaken`.
    private static func start(_ configuration: String, log: String, verbose: Bool) throws -> (Process, UInt64) {
        let offset = fileSize(log)
        let process = try spawn("/usr/bin/python3", [
            "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            "/usr/sbin/mosquitto", "-c", configuration,
        ] + (verbose ? ["-v"] : []), log: log)
        var logged: String { fileText(log, from: offset) }
        do {
            try waitUntil("mosquitto has bound its listeners", details: { logged }) {
                guard process.isRunning else {
                    process.waitUntilExit()
                    if logged.contains("Address already in use") {
                        throw PortTaken(description: "mosquitto: \(logged.suffix(500))")
                    }
                    throw WaitTimedOut(description: "mosquitto exited (\(process.terminationStatus)) at start:\n\(logged.suffix(3000))")
                }
                return logged.split(separator: "\n").contains { $0.contains("mosquitto version ") && $0.hasSuffix(" running") }
            }
        } catch {
            stopHard(process)
            throw error
        }
        return (process, offset)
    }
}
