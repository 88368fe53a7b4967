import AgoraTestSupport
import Foundation
import Testing

/// XEP-0347 discovery, `urn:agora:market:1` and `urn:agora:ledger:1` against slixmpp clients (`xmpp/market.py`),
/// which verify every receipt and proof with the independent Python verifier.
@Suite(.serialized) struct MarketOverXMPPTests {
    @Test func consumersBuyOverXMPPWithVerifiableReceiptsAndBadRequestsChangeNothing() throws {
        let gateway = try XMPPInteropTests.RunningGateway()
        defer { gateway.stop() }
        // The CLI writes next to the running server: LMDB serialises the two writers.
        try gateway.cli.addAccount("owner@gw.test", role: "owner", password: "owner-secret-4444")
        _ = try gateway.cli.ok(["sensor", "add", "air-1", "--owner", "owner@gw.test", "--kind", "pm25", "--price", "5"])
        _ = try gateway.cli.ok(["sensor", "add", "air-2", "--owner", "owner@gw.test", "--kind", "pm25", "--price", "20"])
        _ = try gateway.cli.ok(["sensor", "add", "noise-1", "--owner", "owner@gw.test", "--kind", "noise", "--price", "2", "--lat", "48.1", "--lon", "11.5"])
        _ = try gateway.cli.ok(["sensor", "add", "frozen-1", "--owner", "owner@gw.test", "--kind", "pm25", "--price", "1"])
        _ = try gateway.cli.ok(["sensor", "freeze", "frozen-1", "--reason", "test"])
        _ = try gateway.cli.ok(["credit", "mint", "alice@gw.test", "100", "--memo", "test"])
        let logKey = try gateway.cli.logKey()
        // The mint to alice, whose amount the poor account will try to brute-force from a proof.
        let entries = try JSONSerialization.jsonObject(with: Data(try gateway.cli.ok(["ledger", "show", "--json", "--limit", "10000"]).utf8)) as! [[String: Any]]
        let mint = try #require(entries.last { ($0["entry"] as? [String: Any]).map { $0["type"] as? String == "credit.mint" && $0["to"] as? String == "alice@gw.test" } ?? false })

        let result = try runProcess("/usr/bin/python3", [
            XMPPInteropTests.scripts + "/market.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
            "--ca", gateway.ca, "--log-key", logKey, "--sensor", "air-1",
            "--buyer", "alice@gw.test", XMPPInteropTests.RunningGateway.passwords["alice"]!,
            "--poor", "bob@gw.test", XMPPInteropTests.RunningGateway.passwords["bob"]!,
            "--owner", "owner@gw.test", "owner-secret-4444",
            "--mint-index", String(mint["index"] as! Int), "--mint-amount", "100",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n--- serve.log ---\n\(gateway.log.suffix(4000))")

        // What the clients were told is what the ledger holds: 100 − 10 − 8 − 5, +5, and the
        // owner earned both purchases; a replay of the whole ledger reproduces the state.
        for (account, credits) in [("alice", "77"), ("bob", "5"), ("owner", "18")] {
            #expect(try gateway.cli.ok(["credit", "balance", "\(account)@gw.test"]).trimmingCharacters(in: .whitespacesAndNewlines) == credits, "\(account)")
        }
        _ = try gateway.cli.ok(["ledger", "verify", "--replay"])

        // The refusals were counted: the script drew at least 4 forbidden and 2 not-acceptable.
        let log = gateway.stopGracefully()
        let errors = try #require(log.split(separator: "\n").first { $0.contains("agora serve stopped") }?
            .split(separator: " ").first { $0.hasPrefix("xmpp.iq_errors=") })
        let counts = Dictionary(uniqueKeysWithValues: errors.dropFirst("xmpp.iq_errors=".count).split(separator: ",").map {
            let pair = $0.split(separator: "="); return (String(pair[0]), Int(pair[1]) ?? 0)
        })
        #expect((counts["forbidden"] ?? 0) >= 4 && (counts["not-acceptable"] ?? 0) >= 2 && (counts["policy-violation"] ?? 0) >= 2, "\(errors)")
    }

    /// Issue 14, finding 3: per-account quotas on what IQs append to the ledger.
    @Test func anAccountCannotGrowTheLedgerWithoutBound() throws {
        let gateway = try XMPPInteropTests.RunningGateway(environment: [
            "AGORA_QUOTAS_CERTIFICATES_PER_DAY": "3", "AGORA_QUOTAS_LEDGER_WRITES_BURST": "5", "AGORA_QUOTAS_LEDGER_WRITES_PER_MINUTE": "6",
        ])
        defer { gateway.stop() }
        _ = try gateway.cli.ok(["credit", "mint", "alice@gw.test", "100", "--memo", "test"])
        let result = try runProcess("/usr/bin/python3", [
            XMPPInteropTests.scripts + "/quotas.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
            "--ca", gateway.ca, "--account", "alice@gw.test", XMPPInteropTests.RunningGateway.passwords["alice"]!, "--peer", "bob@gw.test",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n--- serve.log ---\n\(gateway.log.suffix(4000))")
        _ = try gateway.cli.ok(["ledger", "verify", "--replay"])
        _ = gateway.stopGracefully()
        let iqErrors = try gateway.cli.lastRunCounters()["xmpp.iq_errors"] ?? ""
        #expect(iqErrors.split(separator: ",").contains("resource-constraint=2"), "\(iqErrors)")
    }
}
