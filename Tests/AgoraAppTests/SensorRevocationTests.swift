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
        let rig = try SensorBrokerRig("agora-revoke", sensors: ["s1", "s2"])
        #expect(try rig.publish("s1", 0..<10) == 0)
        #expect(try eventually { try rig.stored("s1") == 10 })

        // Revoke s1's certificate. The broker has not reloaded: it still lets s1 publish.
        let certificates = try JSONSerialization.jsonObject(with: Data(try rig.agora(["ca", "list", "--json"]).utf8)) as! [[String: Any]]
        let serial = try #require(certificates.first { $0["subject"] as? String == "sensor:s1" }?["serial"] as? String)
        try rig.agora(["ca", "revoke", serial, "--reason", "keyCompromise"])
        #expect(try rig.publish("s1", 10..<20) == 0, "the broker refused before it reloaded its CRL: the test no longer shows the gap")
        // s2's readings, published after s1's, are stored: so s1's had their turn and were refused.
        #expect(try rig.publish("s2", 0..<5) == 0)
        #expect(try eventually { try rig.stored("s2") == 5 })
        #expect(try rig.stored("s1") == 10, "readings from a revoked sensor were stored")

        // What agora-broker-crl.path has systemd do: reload the broker. The certificate is now refused at connect.
        kill(rig.mosquitto.process.processIdentifier, SIGHUP)
        #expect(try eventually(timeout: 10) { try rig.publishOne("s1", 20) != 0 }, "the reloaded broker still accepts a revoked certificate")
        #expect(try rig.publish("s2", 5..<10) == 0, "the reload locked out a good certificate")
        #expect(try eventually { try rig.stored("s2") == 10 })

        // Re-certified (a new key, a new certificate), s1 is accepted again at once.
        _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-keyout", rig.dir.file("s1.key"), "-out", rig.dir.file("s1.csr"), "-subj", "/CN=s1"])
        try rig.agora(["ca", "sign", rig.dir.file("s1.csr"), "--for", "sensor:s1"]).write(toFile: rig.dir.file("s1.pem"), atomically: true, encoding: .utf8)
        #expect(try rig.publish("s1", 30..<35) == 0)
        #expect(try eventually { try rig.stored("s1") == 15 }, "a re-certified sensor's readings were refused")

        let log = rig.stopServe()
        // The ten refused before the reload, and any the reload check got through before the broker had reloaded.
        let revoked = log.components(separatedBy: "ingest.revoked=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(revoked >= 10, "\(log.suffix(3000))")
    }
}
