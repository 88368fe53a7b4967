import AgoraTestSupport
import Foundation

/// A gateway with pre-registered sensors, a real Mosquitto configured by `agora broker-config`,
/// `agora serve` (MQTT only), and for each sensor an OpenSSL-made key and a certificate from
/// `agora ca sign` — the set-up of the tests that attack the broker side.
final class SensorBrokerRig {
    let dir: TemporaryDirectory
    let cli: AgoraCLI
    var broker: String { dir.file("broker") }
    private(set) var mosquitto: Mosquitto!
    private(set) var serve: Process!
    /// The certificate listener (the pairing listener is `port + 1`).
    var port: Int { mosquitto.port }
    /// The base of the readings' times (an hour ago), so `publish` writes distinct past times.
    let base = Int(Date().timeIntervalSince1970) - 3600

    /// - Parameters:
    ///   - brokerVerbose: `mosquitto -v`, so the log names every connection's client id.
    ///   - serveEnvironment: more settings for `agora serve` (e.g. its HTTP port).
    ///   - beforeServe: runs on the prepared store before `agora serve` starts.
    init(_ name: String, sensors: [String], frequency: Int = 60, brokerVerbose: Bool = false, serveEnvironment: [String: String] = [:],
         beforeServe: (AgoraCLI) throws -> Void = { _ in }) throws {
        dir = try TemporaryDirectory(name)
        cli = AgoraCLI(stateDirectory: dir.file("state"))
        try agora(["init", "--domain", "gw1.example"])
        try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
        for id in sensors { try agora(["sensor", "add", id, "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1", "--frequency", String(frequency)]) }
        try beforeServe(cli)
        mosquitto = try Mosquitto(cli: cli, out: dir.file("broker"), log: dir.file("mosquitto.log"), verbose: brokerVerbose)
        serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"),
                               environment: mqttOnlyEnvironment.merging(serveEnvironment) { _, new in new })
        // A reading published before the gateway has subscribed would have no subscriber.
        try mosquitto.waitForGateway()
        for id in sensors {
            _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                    "-keyout", dir.file("\(id).key"), "-out", dir.file("\(id).csr"), "-subj", "/CN=\(id)"])
            try agora(["ca", "sign", dir.file("\(id).csr"), "--for", "sensor:\(id)"]).write(toFile: dir.file("\(id).pem"), atomically: true, encoding: .utf8)
        }
    }

    deinit {
        if let serve { stopHard(serve) }
        mosquitto?.stop()
        dir.remove()
    }

    @discardableResult
    func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }

    var brokerLog: String { mosquitto.log }
    var serveLog: String { fileText(dir.file("serve.log")) }

    /// Publishes one QoS 1 pack per reading of `range` as sensor `id` with its certificate;
    /// mosquitto_pub's exit status (0: the broker acknowledged every one).
    func publish(_ id: String, _ range: Range<Int>) throws -> Int32 {
        let file = dir.file("\(id)-\(range.lowerBound).txt")
        try (range.map { #"[{"n":"pm25","t":\#(base + $0),"v":\#($0)}]"# }.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        return try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("\(id).pem")) --key \(dir.file("\(id).key")) -q 1 -t agora/sensors/\(id)/senml -l < \(file)"]).status
    }

    /// Publishes a single reading as sensor `id`: mosquitto_pub's exit status. Unlike `-l`
    /// (which reconnects for ever), one-message mode gives up when the broker refuses the
    /// connection, e.g. a revoked certificate.
    func publishOne(_ id: String, _ n: Int) throws -> Int32 {
        try runProcess("/usr/bin/mosquitto_pub", ["-I", "client:", "-h", "localhost", "-p", String(port), "--cafile", broker + "/ca.pem",
                                                  "--cert", dir.file("\(id).pem"), "--key", dir.file("\(id).key"), "-q", "1",
                                                  "-t", "agora/sensors/\(id)/senml", "-m", #"[{"n":"pm25","t":\#(base + n),"v":\#(n)}]"#]).status
    }

    /// Publishes one QoS 1 pack per time in `times` (seconds since the epoch) as sensor `id`.
    func publish(_ id: String, times: [Int]) throws -> Int32 {
        try publish(id, readings: times.map { ($0, Double($0 % 97)) })
    }

    /// Publishes one QoS 1 pack per (time, pm25 value) as sensor `id`.
    func publish(_ id: String, readings: [(time: Int, value: Double)]) throws -> Int32 {
        let file = dir.file("\(id)-readings-\(readings.first?.time ?? 0).txt")
        try (readings.map { #"[{"n":"pm25","t":\#($0.time),"v":\#($0.value)}]"# }.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        return try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("\(id).pem")) --key \(dir.file("\(id).key")) -q 1 -t agora/sensors/\(id)/senml -l < \(file)"]).status
    }

    /// How many readings of `id` the store holds.
    func stored(_ id: String) throws -> Int {
        (try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", id, "--format", "json"]).utf8)) as! [Any]).count
    }

    /// SIGTERM, then the log once serve has stopped (its counters are in the last line).
    func stopServe() -> String {
        kill(serve.processIdentifier, SIGTERM)
        _ = eventually(timeout: 10) { !serve.isRunning }
        return serveLog
    }
}
