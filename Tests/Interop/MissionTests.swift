import AgoraTestSupport
import Foundation
import Testing

/// Issue 6's whole mission with real peers: `agora serve` with a test-started Mosquitto, an
/// operator, an owner and a consumer on slixmpp, a sensor played by OpenSSL and
/// mosquitto_rr and mosquitto_pub (`xmpp/mission.py`). The ledger must agree with what the clients were told.
@Suite(.serialized) struct MissionTests {
    @Test func aSensorPairsSellsItsDataAndTheBuyerProvesWhatItBoughtAndReceived() throws {
        // Trace logging: the secrets check below covers every level.
        let gateway = try XMPPInteropTests.RunningGateway(environment: ["AGORA_LOG_LEVEL": "trace"]) { cli, dir in
            try cli.addAccount("admin@gw.test", role: "operator", password: "admin-secret-7777")
            return try Mosquitto(cli: cli, out: dir.file("broker"), options: ["--host", "127.0.0.1"], log: dir.file("mosquitto.log"))
        }
        defer { gateway.stop() }
        let broker = try #require(gateway.broker)
        let mqttPort = broker.port
        // The sensor pairs over MQTT: its request must find the gateway subscribed.
        try broker.waitForGateway()
        let logKey = try gateway.cli.logKey()

        let result = try runProcess("/usr/bin/python3", [
            XMPPInteropTests.scripts + "/mission.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
            "--ca", gateway.ca, "--log-key", logKey, "--operator", "admin@gw.test", "admin-secret-7777",
            "--mqtt-port", String(mqttPort), "--pair-port", String(mqttPort + 1), "--work", gateway.dir.path,
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n--- serve.log ---\n\(gateway.log.suffix(4000))")
        #expect(result.stdout.contains("mission ok consumer=93 owner=7"), "\(result.stdout)")

        // The same consumer with `agora client`: its two purchases, and the first hour read back
        // with every proof verified, the 360 values the sensor published.
        let carl = ["--jid", "carl@gw.test", "--ca", gateway.ca, "--server", "127.0.0.1:\(gateway.c2sPort)",
                    "--log-key", logKey, "--timeout", "30"]
        let secret = ["AGORA_CLIENT_PASSWORD": "carl-secret-5678"]
        let listed = try runProcess(agoraExecutable, ["client", "purchases", "--json"] + carl, environment: secret)
        let purchases = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stderr)")
        #expect(purchases.count == 2 && purchases.map { $0["credits"] as? Int }.sorted { ($0 ?? 0) < ($1 ?? 0) } == [2, 5], "\(purchases)")
        let first = try #require(purchases.first { $0["credits"] as? Int == 2 })
        let read = try runProcess(agoraExecutable, ["client", "read", "air-7", "--from", first["from"] as! String,
                                                    "--to", first["to"] as! String, "--page-size", "100"] + carl, environment: secret)
        #expect(read.status == 0, "\(read.stderr)")
        let values = read.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
        #expect(values == (0..<360).map { Double($0) / 8 }, "agora client read: \(values.count) values; \(read.stderr.suffix(500))")

        // Balances as the ledger has them equal what the clients were told; the ledger replays.
        #expect(try gateway.cli.ok(["credit", "balance", "carl@gw.test"]).trimmingCharacters(in: .whitespacesAndNewlines) == "93")
        #expect(try gateway.cli.ok(["credit", "balance", "olga@gw.test"]).trimmingCharacters(in: .whitespacesAndNewlines) == "7")
        let after = try JSONSerialization.jsonObject(with: Data(try gateway.cli.ok(["status", "--json"]).utf8)) as! [String: Any]
        #expect(after["sumOfBalances"] as? Int == after["totalMinted"] as? Int)
        _ = try gateway.cli.ok(["ledger", "verify", "--replay"])

        // No secret of the whole mission reached the gateway's log, at trace level: passwords,
        // the pairing code, private keys, the key-encryption key.
        let log = gateway.log
        #expect(log.contains("trace") || log.contains("debug"), "the log was not at trace level")
        let code = try #require(result.stdout.split(separator: " ").first { $0.hasPrefix("code=") }?.dropFirst(5))
        let kek = try Data(contentsOf: URL(fileURLWithPath: gateway.dir.file("state/agora.kek")))
        for secret in ["admin-secret-7777", "olga-secret-1234", "carl-secret-5678", String(code).trimmingCharacters(in: .whitespacesAndNewlines),
                       "PRIVATE KEY", kek.base64EncodedString(), kek.map { String(format: "%02x", $0) }.joined()] {
            #expect(!log.contains(secret), "the log holds a secret (\(secret.prefix(4))…)")
        }
    }
}
