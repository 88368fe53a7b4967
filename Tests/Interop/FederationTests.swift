import AgoraTestSupport
import Foundation
import Testing

/// XMPP federation (issue 19) in a small city built by the test (`federation/city.py`):
/// network namespaces on a bridge, dnsmasq serving A and SRV records, two Agora gateways and
/// Debian's Prosody as the city's server. Prosody and gw1 authenticate each other by
/// certificates from a city root; gw2 knows no root, so it and its peers use dialback.
/// carol, whose account lives on Prosody, chats with alice on gw1, subscribes to her
/// presence, buys a window of a gw1 sensor and reads it with proofs; hostile raw peers (a bad
/// dialback key, untrusted and misnamed certificates, a forged `from`, a flood) are refused
/// and counted, and carol and alice still chat afterwards. Then gw1 is killed (`kill -9`)
/// while carol buys over s2s: after a restart every purchase she was told of is on gw1's
/// ledger exactly once, balances add up to what was minted, and the ledger replays.
///
/// Needs root (network namespaces), as CI runs; without it the test fails saying so.
@Suite(.serialized) struct FederationTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("federation/city.py").path

    @Test func prosodyAndTwoGatewaysFederateAndARemoteConsumerBuysWithProofs() throws {
        try #require(getuid() == 0, "the federation test builds network namespaces: run it as root (CI does)")
        let result = try runProcess("/usr/bin/python3", [Self.script, "--agora", agoraExecutable])
        #expect(result.status == 0 && result.stdout.contains("federation ok"), """
            city.py exited \(result.status)
            \(result.stdout.suffix(20000))\(result.stderr.suffix(5000))
            """)
    }
}
