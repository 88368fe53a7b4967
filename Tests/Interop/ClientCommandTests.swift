import AgoraTestSupport
import Foundation
import Testing

/// `agora client` against `agora serve`: a consumer searches, is refused, buys, reads with
/// every proof verified, and the receipt it saved verifies offline with the independent
/// Python verifier; a changed log key and a wrong password are refused; a certificate from
/// `agora client csr` logs in with SASL EXTERNAL.
@Suite(.serialized) struct ClientCommandTests {
    static let window = (from: "2026-11-22T08:00:00Z", to: "2026-11-22T08:20:00Z")

    /// The gateway of `XMPPInteropTests` with an owner, two sensors and 30 readings of air-1
    /// (one a minute from 08:00), and 100 credits for alice.
    static func gateway() throws -> XMPPInteropTests.RunningGateway {
        let gateway = try XMPPInteropTests.RunningGateway()
        try gateway.cli.addAccount("owner@gw.test", role: "owner", password: "owner-secret-4444")
        try gateway.cli.ok(["sensor", "add", "air-1", "--owner", "owner@gw.test", "--kind", "pm25", "--unit", "ug/m3", "--price", "3",
                            "--lat", "48.8566", "--lon", "2.3522", "--name", "Quai de Seine"])
        try gateway.cli.ok(["sensor", "add", "air-far", "--owner", "owner@gw.test", "--kind", "pm25", "--price", "3", "--lat", "45.76", "--lon", "4.83"])
        try gateway.cli.ok(["sensor", "add", "air-dear", "--owner", "owner@gw.test", "--kind", "pm25", "--price", "50", "--lat", "48.857", "--lon", "2.353"])
        try gateway.cli.ok(["sensor", "add", "noise-1", "--owner", "owner@gw.test", "--kind", "noise", "--price", "1", "--lat", "48.8566", "--lon", "2.3522"])
        let pack = (0..<30).map { #"{"bn":"air-1:","n":"pm25","u":"ug/m3","t":\#(1_795_334_400 + 60 * $0),"v":\#(10 + Double($0) / 2)}"# }
        try ("[" + pack.joined(separator: ",") + "]").write(toFile: gateway.dir.file("pack.json"), atomically: true, encoding: .utf8)
        try gateway.cli.ok(["readings", "ingest", "--sensor", "air-1", gateway.dir.file("pack.json")])
        try gateway.cli.ok(["credit", "mint", "alice@gw.test", "100", "--memo", "test"])
        return gateway
    }

    /// `agora client SUBCOMMAND ARGUMENTS` as `user`, with its password in the environment
    /// and a pin file in the test's directory.
    static func client(_ gateway: XMPPInteropTests.RunningGateway, _ arguments: [String], as user: String = "alice",
                       password: String? = nil, knownLogs: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let subcommand = Array(arguments.prefix(1)), rest = Array(arguments.dropFirst())
        return try runProcess(agoraExecutable, ["client"] + subcommand + [
            "--jid", gateway.jid(user), "--ca", gateway.ca, "--server", "127.0.0.1:\(gateway.c2sPort)",
            "--known-logs", knownLogs ?? gateway.dir.file("known-logs"), "--timeout", "20",
        ] + rest, environment: ["AGORA_CLIENT_PASSWORD": password ?? XMPPInteropTests.RunningGateway.passwords[user] ?? ""])
    }

    @Test func aConsumerSearchesIsRefusedBuysAndReadsVerifiedData() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let (from, to) = Self.window

        // Search: by kind, within 2 km of the Hôtel de Ville, under 10 credits an hour.
        let found = try Self.client(gateway, ["search", "--kind", "pm25", "--near", "48.8566,2.3522,2", "--max-price", "10", "--json"])
        #expect(found.status == 0, "\(found.stderr)")
        let things = try JSONSerialization.jsonObject(with: Data(found.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(things.map { $0["sensor"] as? String } == ["air-1"], "\(found.stdout)")

        // Not bought yet: refused, with what to buy.
        let refused = try Self.client(gateway, ["read", "air-1", "--from", from, "--to", to])
        #expect(refused.status == 1 && refused.stderr.contains("forbidden") && refused.stderr.contains("has not bought air-1"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty, "nothing printed for a refused read")

        // A price above the bound is refused and charges nothing.
        let dear = try Self.client(gateway, ["buy", "air-1", "--from", from, "--to", to, "--max-credits", "1"])
        #expect(dear.status == 1 && dear.stderr.contains("not-acceptable"), "\(dear.stderr)")
        #expect(try Self.client(gateway, ["balance"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "100")

        // Bought: the receipt is saved, and verifies offline with the independent verifier.
        let receipt = gateway.dir.file("receipt.json")
        let bought = try Self.client(gateway, ["buy", "air-1", "--from", from, "--to", to, "--max-credits", "10", "--receipt", receipt])
        #expect(bought.status == 0 && bought.stdout.contains("for 3 credits"), "\(bought.stdout)\(bought.stderr)")
        let logKey = try gateway.cli.logKey()
        let offline = try runProcess("/usr/bin/python3", [XMPPInteropTests.repository + "/Tests/Interop/verify_receipt.py", receipt, logKey])
        #expect(offline.status == 0, "\(offline.stdout)\(offline.stderr)")
        #expect(try Self.client(gateway, ["balance"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "97")
        #expect(try Self.client(gateway, ["purchases"]).stdout.contains("air-1\t\(from)\t\(to)\t3 credits"))

        // Read, in pages of 7: the 20 readings of the window, exactly what the store holds.
        let read = try Self.client(gateway, ["read", "air-1", "--from", from, "--to", to, "--page-size", "7"])
        #expect(read.status == 0, "\(read.stderr)")
        let rows = read.stdout.split(separator: "\n").dropFirst()
        #expect(rows.count == 20)
        #expect(rows.first == "2026-11-22T08:00:00.000000000Z,air-1:pm25,ug/m3,10.0" && rows.last == "2026-11-22T08:19:00.000000000Z,air-1:pm25,ug/m3,19.5",
                "\(read.stdout)")
        #expect(read.stderr.contains("in 3 pages") && read.stderr.contains("20 readings, 1 ledger commits, verified with log key \(logKey)"), "\(read.stderr)")
        let exported = try JSONSerialization.jsonObject(with: Data(try gateway.cli.ok(["readings", "export", "--sensor", "air-1", "--from", from, "--to", to, "--format", "json"]).utf8)) as? [Any]
        #expect(exported?.count == rows.count)

        // With --proofs, each reading carries what proves it: the independent verifier agrees.
        let proven = try Self.client(gateway, ["read", "air-1", "--from", from, "--to", to, "--proofs"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(proven.stdout.utf8)) as? [String: Any])
        let readings = try #require(document["readings"] as? [[String: Any]])
        let receipts = try #require(document["receipts"] as? [String: String])
        let first = readings[0]
        let proof: [String: Any] = ["record": first["record"]!, "leafIndex": first["leaf"]!, "batchSize": first["size"]!, "batchProof": first["path"]!,
                                    "receipt": try JSONSerialization.jsonObject(with: Data(receipts[String(first["commit"] as! Int)]!.utf8))]
        try JSONSerialization.data(withJSONObject: proof).write(to: URL(fileURLWithPath: gateway.dir.file("reading-proof.json")))
        let checked = try runProcess("/usr/bin/python3", [XMPPInteropTests.repository + "/Tests/Interop/verify_receipt.py", gateway.dir.file("reading-proof.json"), logKey])
        #expect(checked.status == 0 && checked.stdout.contains("ok reading of air-1"), "\(checked.stdout)\(checked.stderr)")
    }

    @Test func aChangedLogKeyAWrongKeyAndAWrongPasswordAreRefused() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let logKey = try gateway.cli.logKey()
        // First use pins the key the gateway announces, after checking its genesis receipt.
        let first = try Self.client(gateway, ["log-key"])
        #expect(first.status == 0 && first.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == logKey && first.stderr.contains("trusted on first use"), "\(first.stderr)")
        #expect(fileText(gateway.dir.file("known-logs")) == "gw.test/agora \(logKey)\n")
        #expect(try Self.client(gateway, ["log-key"]).stderr.contains("pinned in"))

        // A pin for another key (another gateway answering for gw.test): refused before any proof is believed.
        let other = gateway.dir.file("other-pins")
        try "gw.test/agora gw.test/agora+00000000+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".write(toFile: other, atomically: true, encoding: .utf8)
        let changed = try Self.client(gateway, ["read", "air-1", "--from", Self.window.from, "--to", Self.window.to], knownLogs: other)
        #expect(changed.status == 1 && changed.stderr.contains("log key for gw.test/agora changed"), "\(changed.stderr)")
        let given = try Self.client(gateway, ["buy", "air-1", "--from", Self.window.from, "--to", Self.window.to, "--log-key", "gw.test/agora+00000000+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
        #expect(given.status == 1 && given.stderr.contains("not the one given with --log-key"), "\(given.stderr)")
        #expect(try Self.client(gateway, ["balance"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "100", "nothing bought under a wrong key")

        let wrong = try Self.client(gateway, ["balance"], password: "not-the-password")
        #expect(wrong.status == 1 && wrong.stderr.contains("login refused (not-authorized)"), "\(wrong.stderr)")
        let noTrust = try runProcess(agoraExecutable, ["client", "balance", "--jid", gateway.jid("alice"), "--server", "127.0.0.1:\(gateway.c2sPort)"],
                                     environment: ["AGORA_CLIENT_PASSWORD": "alice-secret-1"])
        #expect(noTrust.status == 1 && noTrust.stderr.contains("TLS") && noTrust.stderr.contains("--ca"), "the gateway's own CA is not in the system store: \(noTrust.stderr)")
    }

    @Test func aCertificateFromClientCSRLogsInWithSASLExternal() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let key = gateway.dir.file("alice.key"), cert = gateway.dir.file("alice.pem")
        let issued = try Self.client(gateway, ["csr", "--key-out", key, "--cert-out", cert])
        #expect(issued.status == 0, "\(issued.stderr)")
        let mode = (try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600, "the key is 0\(String(mode, radix: 8))")
        let external = try runProcess(agoraExecutable, ["client", "balance", "--jid", gateway.jid("alice"), "--ca", gateway.ca,
                                                        "--server", "127.0.0.1:\(gateway.c2sPort)", "--cert", cert, "--key", key], environment: [:])
        #expect(external.status == 0 && external.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "100", "\(external.stderr)")
        // Another account's certificate does not log in as alice.
        let bobKey = gateway.dir.file("bob.key"), bobCert = gateway.dir.file("bob.pem")
        #expect(try Self.client(gateway, ["csr", "--key-out", bobKey, "--cert-out", bobCert], as: "bob").status == 0)
        let impostor = try runProcess(agoraExecutable, ["client", "balance", "--jid", gateway.jid("alice"), "--ca", gateway.ca,
                                                        "--server", "127.0.0.1:\(gateway.c2sPort)", "--cert", bobCert, "--key", bobKey], environment: [:])
        #expect(impostor.status == 1 && impostor.stderr.contains("login refused"), "\(impostor.stderr)")
    }
}
