import AgoraTestSupport
import Foundation
import Testing

/// Issue 14, finding 1 (high): client ids are one namespace across the broker's two
/// listeners, and Mosquitto closes the older of two connections with the same id. An
/// anonymous client on the pairing listener that took the gateway's id kicked the gateway off
/// again and again, and readings the broker had acknowledged to a sensor meanwhile were never
/// stored. Played against a real Mosquitto configured by `agora broker-config`.
@Suite(.serialized) struct MQTTClientIDTakeoverTests {
    @Test func nobodyCanTakeTheGatewaysOrASensorsClientIDAndEveryAcknowledgedReadingIsStored() throws {
        let dir = try TemporaryDirectory("agora-takeover")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }
        _ = try agora(["init", "--domain", "gw1.example"])
        _ = try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
        for id in ["s1", "s2"] { _ = try agora(["sensor", "add", id, "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"]) }
        let port = Int.random(in: 40_000..<60_000)
        let broker = dir.file("broker")
        _ = try agora(["broker-config", "--out", broker, "--port-tls", String(port), "--port-pair", String(port + 1)])
        let mosquitto = try spawn("/usr/sbin/mosquitto", ["-c", broker + "/mosquitto.conf", "-v"], log: dir.file("mosquitto.log"))
        defer { stopHard(mosquitto) }
        Thread.sleep(forTimeInterval: 0.5)
        let serve = try spawn(agoraExecutable, ["serve", "--state-dir", dir.file("state")], log: dir.file("serve.log"), environment: mqttOnlyEnvironment)
        defer { stopHard(serve) }
        for id in ["s1", "s2"] {
            _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                    "-keyout", dir.file("\(id).key"), "-out", dir.file("\(id).csr"), "-subj", "/CN=\(id)"])
            try agora(["ca", "sign", dir.file("\(id).csr"), "--for", "sensor:\(id)"]).write(toFile: dir.file("\(id).pem"), atomically: true, encoding: .utf8)
        }
        func brokerLog() -> String { (try? String(contentsOfFile: dir.file("mosquitto.log"), encoding: .utf8)) ?? "" }
        func gatewayConnections() -> Int { brokerLog().components(separatedBy: " as agora:gateway ").count - 1 }
        func waitFor(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline { if try condition() { return true }; Thread.sleep(forTimeInterval: 0.1) }
            return false
        }
        #expect(waitFor { gatewayConnections() == 1 }, "the gateway never connected: \(brokerLog().suffix(2000))")

        // The attackers stay connected (mosquitto_sub reconnects by itself when kicked), so a
        // working takeover keeps the gateway and the sensor off the broker while readings flow.
        let tls = ["-h", "localhost", "--cafile", broker + "/ca.pem", "-t", "agora/pair/+/response"]
        let anonymous = tls + ["-p", String(port + 1)]
        let withS2sCertificate = tls + ["-p", String(port), "--cert", dir.file("s2.pem"), "--key", dir.file("s2.key")]
        var attackers: [(name: String, process: Process)] = []
        // Every id must begin with "client:" (refused otherwise); on the certificate listener the
        // broker replaces it with the certificate's CN.
        for (name, arguments) in [("anonymous-as-gateway", anonymous + ["-i", "agora:gateway"]),
                                  ("anonymous-as-old-gateway-id", anonymous + ["-i", "agora-gateway"]),
                                  ("anonymous-as-sensor", anonymous + ["-i", "s1"]),
                                  ("prefixed-as-gateway", anonymous + ["-i", "client:agora:gateway"]),
                                  ("s2-as-gateway", withS2sCertificate + ["-i", "client:agora:gateway"])] {
            attackers.append((name, try spawn("/usr/bin/mosquitto_sub", arguments, log: dir.file("\(name).log"))))
        }
        defer { for attacker in attackers { stopHard(attacker.process) } }

        // Six rounds of 50 QoS 1 readings from s1; every round the broker acknowledges counts.
        let base = Int(Date().timeIntervalSince1970) - 3600
        var acknowledged = 0
        for round in 0..<6 {
            let lines = (0..<50).map { #"[{"n":"pm25","t":\#(base + round * 50 + $0),"v":\#(round * 50 + $0)}]"# }.joined(separator: "\n") + "\n"
            let file = dir.file("round-\(round).txt")
            try lines.write(toFile: file, atomically: true, encoding: .utf8)
            let sent = try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("s1.pem")) --key \(dir.file("s1.key")) -q 1 -t agora/sensors/s1/senml -l < \(file)"])
            #expect(sent.status == 0, "\(sent.stderr)")
            if sent.status == 0 { acknowledged += 50 }
            // s2's certificate asking for s1's id, while s1 publishes.
            _ = try runProcess("/usr/bin/mosquitto_pub", ["-h", "localhost", "-p", String(port), "--cafile", broker + "/ca.pem",
                                                          "--cert", dir.file("s2.pem"), "--key", dir.file("s2.key"), "-i", "client:s1",
                                                          "-t", "agora/sensors/s2/senml", "-m", "[]"])
            Thread.sleep(forTimeInterval: 0.3)
        }
        func stored() throws -> Int {
            (try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", "s1", "--format", "json"]).utf8)) as! [Any]).count
        }
        #expect(acknowledged == 300)
        let allStored = try waitFor { try stored() == acknowledged }
        let count = try stored()
        #expect(allStored, "stored \(count) of \(acknowledged) acknowledged readings")

        // Anonymous clients with a certificate identity's id are refused at CONNECT.
        for attacker in attackers where attacker.name.hasPrefix("anonymous") {
            #expect(waitFor(5) { !attacker.process.isRunning }, "\(attacker.name) is still connected")
        }
        // A certificate holder connects, but under its own CN whatever id it asked for.
        #expect(brokerLog().contains(" as s2 "), "\(brokerLog().suffix(3000))")
        // The gateway connected once and was never thrown off.
        #expect(gatewayConnections() == 1, "\(brokerLog().suffix(3000))")
        for id in ["agora:gateway", "s1"] {
            #expect(!brokerLog().contains("Client \(id) already connected, closing old connection"), "\(brokerLog().suffix(3000))")
        }
        #expect(serve.isRunning)
    }
}
