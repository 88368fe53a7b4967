import Foundation

/// Starts a long-running peer (a broker, `agora serve`, a subscriber) with its output
/// appended to `log` and no standard input. Stop it with `stopHard`.
public func spawn(_ executable: String, _ arguments: [String], log: String, environment: [String: String] = [:]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
    let handle = FileHandle(forWritingAtPath: log)!
    handle.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
}

/// SIGKILL and reap: children of the test runner inherit its blocked signals, so SIGTERM
/// (and alarms) may never reach them.
public func stopHard(_ process: Process) {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
}

/// The `agora` CLI bound to one state directory.
public struct AgoraCLI: Sendable {
    public let stateDirectory: String

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(agoraExecutable, arguments + ["--state-dir", stateDirectory], environment: environment)
    }

    /// Runs a command that must succeed; returns its standard output.
    @discardableResult
    public func ok(_ arguments: [String]) throws -> String {
        let result = try run(arguments)
        guard result.status == 0 else { throw Failure(description: "agora \(arguments): \(result.stderr)") }
        return result.stdout
    }

    /// `agora user add JID --role ROLE` with `password` on stdin; throws when refused.
    public func addAccount(_ jid: String, role: String, password: String) throws {
        let result = try runProcess(agoraExecutable, ["user", "add", jid, "--role", role, "--password-stdin", "--state-dir", stateDirectory],
                                    stdin: password + "\n")
        guard result.status == 0 else { throw Failure(description: "agora user add \(jid): \(result.stderr)") }
    }

    /// The ledger's verifier key (`agora status --json`), for the independent receipt verifier.
    public func logKey() throws -> String {
        let status = try JSONSerialization.jsonObject(with: Data(try ok(["status", "--json"]).utf8)) as? [String: Any]
        guard let key = status?["logKey"] as? String else { throw Failure(description: "agora status has no logKey") }
        return key
    }

    /// The counters the last `agora serve` kept when it stopped (`agora status --json`,
    /// `lastRun.counters`), e.g. `ingest.stored`; empty when no run has stopped cleanly.
    public func lastRunCounters() throws -> [String: String] {
        let status = try JSONSerialization.jsonObject(with: Data(try run(["status", "--json"]).stdout.utf8)) as? [String: Any]
        return (status?["lastRun"] as? [String: Any])?["counters"] as? [String: String] ?? [:]
    }
}

/// `environment` with the HTTP listener off unless the test configures it (`AGORA_HTTP_PORT`),
/// so tests running side by side do not all bind its default port.
public func withoutHTTPUnlessAsked(_ environment: [String: String]) -> [String: String] {
    environment["AGORA_HTTP_PORT"] == nil ? environment.merging(["AGORA_HTTP_PORT": "0"]) { old, _ in old } : environment
}

/// `agora serve` for tests of MQTT alone: no XMPP listeners to collide with parallel tests.
public let mqttOnlyEnvironment = ["AGORA_XMPP_ENABLED": "false"]

/// Starts `agora serve` and returns once it has logged "agora serve ready": its listeners are
/// bound (with XMPP off, at once; the broker connection is awaited at the broker, with
/// `Mosquitto.waitForGateway`). A port in use throws `PortTaken`, so `withFreePorts` can move
/// it; any other exit, or no readiness within `timeout` seconds, throws with the log. What
/// failed to start is stopped before the throw.
public func startServe(stateDirectory: String, log: String, environment: [String: String] = [:], timeout: Double = 30) throws -> Process {
    let offset = fileSize(log)
    let serve = try spawn(agoraExecutable, ["serve", "--state-dir", stateDirectory], log: log,
                          environment: withoutHTTPUnlessAsked(environment))
    var logged: String { fileText(log, from: offset) }
    do {
        try waitUntil("agora serve is ready", timeout: timeout, details: { "--- serve log ---\n" + logged.suffix(3000) }) {
            guard serve.isRunning else {
                serve.waitUntilExit()
                if logged.lowercased().contains("in use") { throw PortTaken(description: "agora serve: \(logged.suffix(500))") }
                throw AgoraCLI.Failure(description: "agora serve exited (\(serve.terminationStatus)) at start:\n\(logged.suffix(3000))")
            }
            return logged.contains("agora serve ready")
        }
    } catch {
        stopHard(serve)
        throw error
    }
    return serve
}
