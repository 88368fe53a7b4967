import AgoraTestSupport
import Foundation
import Testing

/// XEP-0050 operator commands with XEP-0004 forms (`xmpp/adhoc.py`).
@Suite(.serialized) struct OperatorCommandsOverXMPPTests {
    @Test func operatorsRunCommandsWithFormsAndNobodyElseSeesThem() throws {
        let gateway = try XMPPInteropTests.RunningGateway()
        defer { gateway.stop() }
        try gateway.cli.addAccount("admin@gw.test", role: "operator", password: "admin-secret-7777")
        _ = try gateway.cli.ok(["sensor", "add", "air-1", "--owner", "admin@gw.test", "--kind", "pm25", "--price", "5"])

        let result = try runProcess("/usr/bin/python3", [
            XMPPInteropTests.scripts + "/adhoc.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
            "--ca", gateway.ca, "--sensor", "air-1", "--operator", "admin@gw.test", "admin-secret-7777",
            "--user", "alice@gw.test", XMPPInteropTests.RunningGateway.passwords["alice"]!,
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n--- serve.log ---\n\(gateway.log.suffix(4000))")

        #expect(result.stdout.contains("adhoc ok: 6 commands"), "\(result.stdout)")

        // The commands went through the market: the ledger holds them and replays.
        #expect(try gateway.cli.ok(["credit", "balance", "dave@gw.test"]).trimmingCharacters(in: .whitespacesAndNewlines) == "50")
        #expect(!gateway.log.contains("dave-secret-5555"), "a password reached the log")
        _ = try gateway.cli.ok(["ledger", "verify", "--replay"])
    }
}
