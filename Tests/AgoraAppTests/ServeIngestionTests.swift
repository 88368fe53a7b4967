import AgoraTestSupport
import Foundation
import Testing

/// `agora serve` with a real Mosquitto (configured by `agora broker-config`) and sensors
/// played by `mosquitto_pub` with OpenSSL-made keys.
@Suite(.serialized) struct ServeIngestionTests {
    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test func readingsPublishedOverMQTTAreStoredExactlyAndBadOnesAreDroppedAndCounted() throws {
        let dir = try TemporaryDirectory("agora-serve")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }
        _ = try agora(["init", "--domain", "gw1.example"])
        _ = try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
        for id in ["s1", "s3"] { _ = try agora(["sensor", "add", id, "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"]) }
        _ = try agora(["sensor", "freeze", "s3", "--reason", "test"])
        let broker = dir.file("broker")
        let mosquitto = try Mosquitto(cli: cli, out: broker, log: dir.file("mosquitto.log"))
        defer { mosquitto.stop() }
        let port = mosquitto.port
        let serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: mqttOnlyEnvironment)
        defer { stopHard(serve) }

        for id in ["s1", "s2", "s3"] {
            let made = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                           "-keyout", dir.file("\(id).key"), "-out", dir.file("\(id).csr"), "-subj", "/CN=\(id)"])
            #expect(made.status == 0)
            try agora(["ca", "sign", dir.file("\(id).csr"), "--for", "sensor:\(id)"]).write(toFile: dir.file("\(id).pem"), atomically: true, encoding: .utf8)
        }
        func publish(_ id: String, lines: [String]) throws {
            let file = dir.file("\(id)-\(lines.count).txt")
            try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("\(id).pem")) --key \(dir.file("\(id).key")) -q 1 -t agora/sensors/\(id)/senml -l < \(file)"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        try mosquitto.waitForGateway()
        let base = Int(Date().timeIntervalSince1970) - 7200
        // 10^4 readings of s1: 1000 packs of 10 records, millisecond offsets, values i/4.
        let packs = (0..<1000).map { p in
            "[" + (0..<10).map { r in
                let i = p * 10 + r
                return #"{"bn":"s1:","bt":\#(base),"n":"pm25","t":\#(Double(i) / 1000),"v":\#(Double(i) / 4)}"#
            }.joined(separator: ",") + "]"
        }
        try publish("s1", lines: packs)
        try publish("s2", lines: Array(repeating: #"[{"n":"x","t":-1,"v":1}]"#, count: 5))
        try publish("s3", lines: Array(repeating: #"[{"n":"x","t":-1,"v":1}]"#, count: 5))
        try publish("s1", lines: [#"not json"#, #"[{"n":"x"}]"#, #"[{"v":1}]"#,
                                  #"[{"n":"x","t":\#(Int(Date().timeIntervalSince1970) + 3600),"v":1}]"#,
                                  #"[{"n":"x","t":\#(Int(Date().timeIntervalSince1970) + 7200),"v":1}]"#])

        var exported: [[String: Any]] = []
        _ = try eventually(timeout: 30, interval: 0.3) {
            exported = try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", "s1", "--format", "json"]).utf8)) as! [[String: Any]]
            return exported.count >= 10_000
        }
        #expect(exported.count == 10_000)
        #expect(exported.map { $0["t"] as! Int } == (0..<10_000).map { base * 1_000_000_000 + $0 * 1_000_000 })
        #expect(exported.map { $0["v"] as! Double } == (0..<10_000).map { Double($0) / 4 })
        #expect(try agora(["readings", "export", "--sensor", "s3", "--format", "json"]).trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

        // Graceful stop: the counters say what was dropped and why.
        kill(serve.processIdentifier, SIGTERM)
        #expect(eventually(timeout: 10) { !serve.isRunning }, "serve did not stop on SIGTERM")
        let counters = try cli.lastRunCounters()
        #expect(counters["ingest.stored"] == "10000", "\(counters)")
        #expect(counters["ingest.malformed"] == "5", "\(counters)")
        #expect(counters["ingest.unknown_sensor"] == "5", "\(counters)")
        #expect(counters["ingest.frozen"] == "5", "\(counters)")
        #expect(counters["ingest.p99_ms"].map { $0 != "-" && Double($0) != nil } == true, "\(counters)")

        // A stored reading proves against the ledger.
        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(base))).replacingOccurrences(of: "Z", with: ".777Z")
        let proof = try agora(["readings", "prove", "--sensor", "s1", "--time", time])
        #expect(proof.contains("\"receipt\""))
        _ = try agora(["ledger", "verify", "--replay"])
    }

    @Test func serveReconnectsByItselfWhenTheBrokerRestarts() throws {
        let dir = try TemporaryDirectory("agora-restart")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }
        _ = try agora(["init", "--domain", "gw1.example"])
        _ = try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
        _ = try agora(["sensor", "add", "s1", "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"])
        let broker = dir.file("broker")
        let mosquitto = try Mosquitto(cli: cli, out: broker, log: dir.file("mosquitto.log"))
        let port = mosquitto.port
        let serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: mqttOnlyEnvironment)
        defer {
            stopHard(serve)
            mosquitto.stop()
        }
        _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-keyout", dir.file("s1.key"), "-out", dir.file("s1.csr"), "-subj", "/CN=s1"])
        try agora(["ca", "sign", dir.file("s1.csr"), "--for", "sensor:s1"]).write(toFile: dir.file("s1.pem"), atomically: true, encoding: .utf8)
        func gatewayConnections() -> Int { mosquitto.log.components(separatedBy: " as agora:gateway ").count - 1 }
        let base = Int(Date().timeIntervalSince1970) - 600
        func publish(_ range: Range<Int>) throws {
            let lines = range.map { #"[{"n":"pm25","t":\#(base + $0),"v":\#($0)}]"# }.joined(separator: "\n") + "\n"
            let file = dir.file("lines-\(range.lowerBound).txt")
            try lines.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("s1.pem")) --key \(dir.file("s1.key")) -q 1 -t agora/sensors/s1/senml -l < \(file)"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        func stored() throws -> Int {
            (try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", "s1", "--format", "json"]).utf8)) as! [Any]).count
        }
        try mosquitto.waitForGateway()
        #expect(gatewayConnections() == 1)
        try publish(0..<100)
        #expect(try eventually { try stored() == 100 })

        // The broker dies and comes back once serve has seen it go; serve reconnects by itself
        // (back-off 1 s, doubling).
        let serveLog = dir.file("serve.log"), beforeLoss = fileSize(serveLog)
        mosquitto.stop()
        try waitUntil("serve has noticed the broker is gone", details: { fileText(serveLog, from: beforeLoss) }) {
            fileText(serveLog, from: beforeLoss).contains("not connected to the broker")
        }
        try mosquitto.restart()
        do { try mosquitto.waitForGateway() } catch { Issue.record("serve did not reconnect: \(error)") }
        #expect(gatewayConnections() == 2)
        try publish(100..<300)
        #expect(try eventually { try stored() == 300 }, "readings published after the broker came back were lost")
        #expect(serve.isRunning)
    }
}
