import AgoraTestSupport
import Foundation
import Testing

/// The extensions everyday clients expect (issue 22), with slixmpp's own plugins
/// (`xmpp/everyday.py`): XEP-0280 carbons, XEP-0191 blocking, XEP-0352 client state,
/// XEP-0163 personal eventing (nickname, XEP-0402 bookmarks with XEP-0223 publish-options).
@Suite(.serialized) struct EverydayClientExtensionsTests {
    static let owner = ("olga@gw.test", "olga-secret-4242")

    @Test(arguments: ["carbons", "blocking", "csi", "pep"])
    func slixmppsOwnPluginsGetWhatTheyAskFor(_ scenario: String) throws {
        let gateway = try XMPPInteropTests.RunningGateway { cli, _ in
            try cli.addAccount(Self.owner.0, role: "owner", password: Self.owner.1)
            return nil
        }
        defer { gateway.stop() }
        let passwords = XMPPInteropTests.RunningGateway.passwords
        var arguments = [XMPPInteropTests.scripts + "/everyday.py", scenario, "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
                         "--ca", gateway.ca, "--owner", Self.owner.0, Self.owner.1, "--timeout", "60"]
        for user in ["alice", "bob"] { arguments += ["--" + user, gateway.jid(user), passwords[user]!] }
        let result = try runProcess("/usr/bin/python3", arguments)
        #expect(result.status == 0 && result.stdout.contains("everyday \(scenario) ok"), """
            everyday.py \(scenario) exited \(result.status)
            \(result.stdout)\(result.stderr)
            --- serve.log ---
            \(gateway.log.suffix(4000))
            """)
    }

    /// profanity, the console client Debian ships, in a tmux pane: logs in without the carbons
    /// error (or any other refused request), joins a room, talks both ways, keeps a bookmark.
    @Test func profanityLogsInWithoutServerErrorsAndTalksInARoom() throws {
        let gateway = try XMPPInteropTests.RunningGateway { cli, _ in
            try cli.addAccount(Self.owner.0, role: "owner", password: Self.owner.1)
            return nil
        }
        defer { gateway.stop() }
        let arguments = [XMPPInteropTests.scripts + "/profanity.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
                         "--ca", gateway.ca, "--work", gateway.dir.path, "--owner", Self.owner.0, Self.owner.1,
                         "--alice", gateway.jid("alice"), XMPPInteropTests.RunningGateway.passwords["alice"]!, "--timeout", "90"]
        let result = try runProcess("/usr/bin/python3", arguments)
        #expect(result.status == 0 && result.stdout.contains("profanity ok"), """
            profanity.py exited \(result.status)
            \(result.stdout)\(result.stderr)
            --- serve.log ---
            \(gateway.log.suffix(4000))
            """)
    }
}
