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
        let rig = try SensorBrokerRig("agora-takeover", sensors: ["s1", "s2"], brokerVerbose: true)
        let (dir, port, broker) = (rig.dir, rig.port, rig.broker)
        func gatewayConnections() -> Int { rig.brokerLog.components(separatedBy: " as agora:gateway ").count - 1 }
        #expect(eventually { gatewayConnections() == 1 }, "the gateway never connected: \(rig.brokerLog.suffix(2000))")

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
        var acknowledged = 0
        for round in 0..<6 {
            let sent = try rig.publish("s1", (round * 50)..<(round * 50 + 50))
            #expect(sent == 0)
            if sent == 0 { acknowledged += 50 }
            // s2's certificate asking for s1's id, while s1 publishes.
            _ = try runProcess("/usr/bin/mosquitto_pub", ["-h", "localhost", "-p", String(port), "--cafile", broker + "/ca.pem",
                                                          "--cert", dir.file("s2.pem"), "--key", dir.file("s2.key"), "-i", "client:s1",
                                                          "-t", "agora/sensors/s2/senml", "-m", "[]"])
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(acknowledged == 300)
        let allStored = try eventually { try rig.stored("s1") == acknowledged }
        let count = try rig.stored("s1")
        #expect(allStored, "stored \(count) of \(acknowledged) acknowledged readings")

        // Anonymous clients with a certificate identity's id are refused at CONNECT.
        for attacker in attackers where attacker.name.hasPrefix("anonymous") {
            #expect(eventually(timeout: 5) { !attacker.process.isRunning }, "\(attacker.name) is still connected")
        }
        // A certificate holder connects, but under its own CN whatever id it asked for.
        #expect(rig.brokerLog.contains(" as s2 "), "\(rig.brokerLog.suffix(3000))")
        // The gateway connected once and was never thrown off.
        #expect(gatewayConnections() == 1, "\(rig.brokerLog.suffix(3000))")
        for id in ["agora:gateway", "s1"] {
            #expect(!rig.brokerLog.contains("Client \(id) already connected, closing old connection"), "\(rig.brokerLog.suffix(3000))")
        }
        #expect(rig.serve.isRunning)
    }
}
