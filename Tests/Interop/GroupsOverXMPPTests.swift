import AgoraTestSupport
import Foundation
import Testing

/// Multi-user chat (issue 22) against slixmpp's own xep_0045 plugin (`xmpp/muc.py`): a
/// members-only room created by an owner, an invitation kept for an offline member, history,
/// nickname collisions, forged `from`, a flood, kick and ban — then a restart of serve, after
/// which the room, its members, its ban and its history are all still there.
@Suite(.serialized) struct GroupsOverXMPPTests {
    static let owner = ("olga@gw.test", "olga-secret-4242")

    @Test func aMembersOnlyRoomWithOfflineInvitationsHistoryKickAndBanSurvivesARestart() throws {
        let httpPort = try freePorts(1)
        let gateway = try XMPPInteropTests.RunningGateway(environment: ["AGORA_HTTP_PORT": String(httpPort)]) { cli, _ in
            try cli.addAccount(Self.owner.0, role: "owner", password: Self.owner.1)
            return nil
        }
        defer { gateway.stop() }
        let passwords = XMPPInteropTests.RunningGateway.passwords

        func muc(_ scenario: String, port: Int, log: () -> String) throws {
            var arguments = [XMPPInteropTests.scripts + "/muc.py", scenario, "--port", String(port), "--domain", XMPPInteropTests.domain,
                             "--ca", gateway.ca, "--owner", Self.owner.0, Self.owner.1, "--timeout", "90",
                             "--expect", gateway.dir.file("history.json")]
            for user in ["alice", "bob", "carol"] { arguments += ["--" + user, gateway.jid(user), passwords[user]!] }
            let result = try runProcess("/usr/bin/python3", arguments)
            #expect(result.status == 0 && result.stdout.contains("muc \(scenario) ok"), """
                muc.py \(scenario) exited \(result.status)
                \(result.stdout)\(result.stderr)
                --- serve.log ---
                \(log().suffix(5000))
                """)
        }
        try muc("groups", port: gateway.c2sPort) { gateway.log }
        // Every refusal the scenario provoked is counted, by reason.
        let metrics = try httpGet("http://127.0.0.1:\(httpPort)/metrics").body
        for reason in ["create_denied", "members_only", "conflict", "not_occupant", "rate", "banned", "too_large"] {
            #expect(metrics.contains("agora_muc_refused_total{reason=\"\(reason)\"}"), "no \(reason) refusal counted in:\n\(metrics.split(separator: "\n").filter { $0.contains("muc") }.joined(separator: "\n"))")
        }
        #expect(metrics.contains("agora_muc_rooms 1"))
        // What the room holds must be on disk: a graceful stop, then a new serve on the same state.
        _ = gateway.stopGracefully()
        let dir = gateway.dir
        let (port, again) = try withFreePorts(2) { port in
            (port, try startServe(stateDirectory: dir.file("state"), log: dir.file("serve-2.log"), environment: [
                "AGORA_XMPP_C2S_PORT": String(port), "AGORA_XMPP_TLS_PORT": String(port + 1), "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1",
                "AGORA_MUC_MAX_ROOMS_PER_ACCOUNT": "3",
            ]))
        }
        defer { stopHard(again) }
        try muc("restart", port: port) { fileText(dir.file("serve-2.log")) }
        try muc("settings", port: port) { fileText(dir.file("serve-2.log")) }
    }

    /// The thesis's use case on the market: three members of a room pay their shares and all
    /// read; a second group misses its deadline and is refunded; balances still add up to what
    /// was minted and the ledger replays.
    @Test func aGroupOfARoomBuysAWindowTogetherAndAMissedDeadlineRefundsEveryone() throws {
        let dave = ("dave@gw.test", "dave-secret-7777")
        let gateway = try XMPPInteropTests.RunningGateway { cli, _ in
            try cli.addAccount(Self.owner.0, role: "owner", password: Self.owner.1)
            try cli.addAccount(dave.0, role: "consumer", password: dave.1)
            try cli.ok(["sensor", "add", "street-1", "--owner", Self.owner.0, "--kind", "pm25", "--price", "3"])
            for user in ["alice", "bob", "carol"] { try cli.ok(["credit", "mint", "\(user)@gw.test", "100", "--memo", "test"]) }
            return nil
        }
        defer { gateway.stop() }
        let passwords = XMPPInteropTests.RunningGateway.passwords
        var arguments = [XMPPInteropTests.scripts + "/group_purchase.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
                         "--ca", gateway.ca, "--log-key", try gateway.cli.logKey(), "--sensor", "street-1",
                         "--owner", Self.owner.0, Self.owner.1, "--dave", dave.0, dave.1, "--timeout", "90"]
        for user in ["alice", "bob", "carol"] { arguments += ["--" + user, gateway.jid(user), passwords[user]!] }
        let result = try runProcess("/usr/bin/python3", arguments)
        #expect(result.status == 0 && result.stdout.contains("group purchase ok"), """
            group_purchase.py exited \(result.status)
            \(result.stdout)\(result.stderr)
            --- serve.log ---
            \(gateway.log.suffix(5000))
            """)
        let status = try JSONSerialization.jsonObject(with: Data(try gateway.cli.ok(["status", "--json"]).utf8)) as? [String: Any]
        #expect(status?["sumOfBalances"] as? Int == status?["totalMinted"] as? Int, "\(String(describing: status))")
        _ = try gateway.cli.ok(["ledger", "verify", "--replay"])
    }
}
