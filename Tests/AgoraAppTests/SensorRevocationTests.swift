import AgoraTestSupport
import Foundation
import Testing

/// Issue 14, finding 5: after `agora ca revoke` the broker still accepted the sensor's
/// certificate (it reads its CRL at start and on SIGHUP only) and the gateway stored its
/// readings. Now the gateway refuses them at once, and a reload of the broker — what the
/// shipped `agora-broker-crl.path` unit has systemd do when the CRL file changes — refuses
/// the certificate itself. Real Mosquitto, sensors played by OpenSSL and mosquitto_pub.
@Suite(.serialized) struct SensorRevocationTests {
    @Test func aRevokedSensorsReadingsAreRefusedAtOnceAndTheReloadedBrokerRefusesItsCertificate() throws {
        let dir = try TemporaryDirectory("agora-revoke")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }
        _ = try agora(["init", "--domain", "gw1.example"])
        _ = try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
        for id in ["s1", "s2"] { _ = try agora(["sensor", "add", id, "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"]) }
        let port = Int.random(in: 40_000..<60_000)
        let broker = dir.file("broker")
        _ = try agora(["broker-config", "--out", broker, "--port-tls", String(port), "--port-pair", String(port + 1)])
        // Started with an empty signal mask: children of the test runner inherit its blocked
        // signals, and this broker must see the SIGHUP that reloads it.
        let mosquitto = try spawn("/usr/bin/python3", ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                                                       "/usr/sbin/mosquitto", "-c", broker + "/mosquitto.conf"], log: dir.file("mosquitto.log"))
        defer { stopHard(mosquitto) }
        Thread.sleep(forTimeInterval: 0.5)
        let serve = try spawn(agoraExecutable, ["serve", "--state-dir", dir.file("state")], log: dir.file("serve.log"), environment: mqttOnlyEnvironment)
        defer { stopHard(serve) }
        for id in ["s1", "s2"] {
            _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                    "-keyout", dir.file("\(id).key"), "-out", dir.file("\(id).csr"), "-subj", "/CN=\(id)"])
            try agora(["ca", "sign", dir.file("\(id).csr"), "--for", "sensor:\(id)"]).write(toFile: dir.file("\(id).pem"), atomically: true, encoding: .utf8)
        }
        let base = Int(Date().timeIntervalSince1970) - 3600
        func publish(_ id: String, _ range: Range<Int>) throws -> Int32 {
            let file = dir.file("\(id)-\(range.lowerBound).txt")
            try (range.map { #"[{"n":"pm25","t":\#(base + $0),"v":\#($0)}]"# }.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            return try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("\(id).pem")) --key \(dir.file("\(id).key")) -q 1 -t agora/sensors/\(id)/senml -l < \(file)"]).status
        }
        func stored(_ id: String) throws -> Int {
            (try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", id, "--format", "json"]).utf8)) as! [Any]).count
        }
        func waitFor(_ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline { if try condition() { return true }; Thread.sleep(forTimeInterval: 0.1) }
            return false
        }
        Thread.sleep(forTimeInterval: 1.0)  // serve connects
        #expect(try publish("s1", 0..<10) == 0)
        #expect(try waitFor { try stored("s1") == 10 })

        // Revoke s1's certificate. The broker has not reloaded: it still lets s1 publish.
        let certificates = try JSONSerialization.jsonObject(with: Data(try agora(["ca", "list", "--json"]).utf8)) as! [[String: Any]]
        let serial = try #require(certificates.first { $0["subject"] as? String == "sensor:s1" }?["serial"] as? String)
        _ = try agora(["ca", "revoke", serial, "--reason", "keyCompromise"])
        #expect(try publish("s1", 10..<20) == 0, "the broker refused before it reloaded its CRL: the test no longer shows the gap")
        // s2's readings, published after s1's, are stored: so s1's had their turn and were refused.
        #expect(try publish("s2", 0..<5) == 0)
        #expect(try waitFor { try stored("s2") == 5 })
        #expect(try stored("s1") == 10, "readings from a revoked sensor were stored")

        // What agora-broker-crl.path has systemd do: reload the broker. The certificate is now refused at connect.
        kill(mosquitto.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try publish("s1", 20..<30) != 0, "the reloaded broker still accepts a revoked certificate")
        #expect(try publish("s2", 5..<10) == 0, "the reload locked out a good certificate")
        #expect(try waitFor { try stored("s2") == 10 })

        kill(serve.processIdentifier, SIGTERM)
        #expect(waitFor { !serve.isRunning })
        let log = (try? String(contentsOfFile: dir.file("serve.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("ingest.revoked=10"), "\(log.suffix(3000))")
    }
}
