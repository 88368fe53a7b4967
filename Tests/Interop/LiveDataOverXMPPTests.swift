import AgoraTestSupport
import Foundation
import Testing

/// Live readings over XEP-0060 publish-subscribe (issue 21) against slixmpp's own xep_0060
/// client (`xmpp/live.py`): sensors played by OpenSSL keys, `agora ca sign` certificates and
/// mosquitto_pub publish SenML through a real Mosquitto into `agora serve`, which pushes each
/// committed batch to the owner, to buyers (only the readings timed inside their windows,
/// proofs on request, stored while they are offline), and to nobody else.
@Suite(.serialized) struct LiveDataOverXMPPTests {
    static let sensors = ["street-1", "street-2", "street-3"]
    static let accounts = ["owner": ("olga@gw.test", "olga-secret-4242"), "dave": ("dave@gw.test", "dave-secret-5555"),
                           "erin": ("erin@gw.test", "erin-secret-6666")]

    @Test func ownersAndBuyersReceiveLiveReadingsWithinTheirWindowsProofsAndWhileOffline() throws {
        let gateway = try XMPPInteropTests.RunningGateway { cli, dir in
            let (owner, ownerPassword) = Self.accounts["owner"]!
            try cli.addAccount(owner, role: "owner", password: ownerPassword)
            for name in ["dave", "erin"] { try cli.addAccount(Self.accounts[name]!.0, role: "consumer", password: Self.accounts[name]!.1) }
            for id in Self.sensors + ["frozen-1"] {
                try cli.ok(["sensor", "add", id, "--owner", owner, "--kind", "pm25", "--price", "1"])
            }
            try cli.ok(["sensor", "freeze", "frozen-1", "--reason", "test"])
            for user in ["alice", "bob", "carol", "dave", "erin"] {
                try cli.ok(["credit", "mint", "\(user)@gw.test", "100", "--memo", "test"])
            }
            // Each sensor's identity: an OpenSSL key and a certificate from the gateway's CA.
            for id in Self.sensors {
                let made = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                               "-keyout", dir.file("\(id).key"), "-out", dir.file("\(id).csr"), "-subj", "/CN=\(id)"])
                guard made.status == 0 else { throw AgoraCLI.Failure(description: "openssl req: \(made.stderr)") }
                try cli.ok(["ca", "sign", dir.file("\(id).csr"), "--for", "sensor:\(id)"])
                    .write(toFile: dir.file("\(id).pem"), atomically: true, encoding: .utf8)
            }
            return try Mosquitto(cli: cli, out: dir.file("broker"), options: ["--host", "127.0.0.1"], log: dir.file("mosquitto.log"))
        }
        defer { gateway.stop() }
        let broker = try #require(gateway.broker)
        // A reading published before the gateway has subscribed would reach nobody.
        try broker.waitForGateway()
        let logKey = try gateway.cli.logKey()
        let passwords = XMPPInteropTests.RunningGateway.passwords

        func live(_ scenario: String, _ roles: [String: (String, String)]) throws {
            var arguments = [XMPPInteropTests.scripts + "/live.py", scenario, "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
                             "--ca", gateway.ca, "--log-key", logKey, "--mqtt-port", String(broker.port), "--mqtt-ca", gateway.dir.file("broker/ca.pem"),
                             "--work", gateway.dir.path, "--owner", Self.accounts["owner"]!.0, Self.accounts["owner"]!.1, "--timeout", "90"]
            for (role, account) in roles.sorted(by: { $0.key < $1.key }) { arguments += ["--" + role, account.0, account.1] }
            let result = try runProcess("/usr/bin/python3", arguments)
            #expect(result.status == 0 && result.stdout.contains("live \(scenario) ok"), """
                live.py \(scenario) exited \(result.status)
                \(result.stdout)\(result.stderr)
                --- serve.log ---
                \(gateway.log.suffix(5000))
                --- mosquitto.log ---
                \(broker.log.suffix(1500))
                """)
        }
        // Owner, buyers of a past-and-current and of a future window, and an outsider, on street-1.
        try live("window", ["buyer": ("alice@gw.test", passwords["alice"]!), "future-buyer": ("carol@gw.test", passwords["carol"]!),
                            "outsider": ("bob@gw.test", passwords["bob"]!)])
        // Every reading of a proofs subscriber's items verified, on street-2.
        try live("proofs", ["proofs-buyer": Self.accounts["dave"]!])
        // Items kept while a buyer is offline, delivered at its next available presence, on street-3.
        try live("offline", ["offline-buyer": Self.accounts["erin"]!])
    }
}
