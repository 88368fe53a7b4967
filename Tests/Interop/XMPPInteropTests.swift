import AgoraTestSupport
import Foundation
import Testing

/// `agora serve` against real XMPP clients: slixmpp (Debian's python3-slixmpp) for the
/// scenarios a user lives through, and a raw-socket attacker for hostile input while a
/// well-behaved session keeps pinging. The scripts live in `Tests/Interop/xmpp/`.
@Suite(.serialized) struct XMPPInteropTests {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("xmpp").path
    static let domain = "gw.test"
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A gateway with three accounts, serving XMPP on free loopback ports.
    final class RunningGateway {
        let dir: TemporaryDirectory
        let cli: AgoraCLI
        let c2sPort: Int
        let tlsPort: Int
        let serve: Process
        /// The broker `prepare` started, stopped with the gateway.
        let broker: Mosquitto?
        var ca: String { dir.file("state/xmpp/ca.pem") }
        static let passwords = ["alice": "alice-secret-1", "bob": "bob-secret-22", "carol": "carol-secret-333"]

        /// - Parameter prepare: runs after the accounts exist and before `serve` starts (e.g.
        ///   `broker-config` and a broker); the broker it returns is stopped with the gateway.
        init(environment: [String: String] = [:], prepare: (AgoraCLI, TemporaryDirectory) throws -> Mosquitto? = { _, _ in nil }) throws {
            dir = try TemporaryDirectory("agora-xmpp")
            cli = AgoraCLI(stateDirectory: dir.file("state"))
            try cli.ok(["init", "--domain", XMPPInteropTests.domain])
            for (user, password) in Self.passwords.sorted(by: { $0.key < $1.key }) {
                try cli.addAccount("\(user)@\(XMPPInteropTests.domain)", role: "consumer", password: password)
            }
            broker = try prepare(cli, dir)
            // Free ports from the kernel, and others if another process takes them before serve binds.
            let dir = self.dir
            (c2sPort, serve) = try withFreePorts(2) { port in
                let serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: [
                    "AGORA_XMPP_C2S_PORT": String(port), "AGORA_XMPP_TLS_PORT": String(port + 1),
                    "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1", "AGORA_XMPP_AUTH_MAX_BACKOFF_S": "4",
                ].merging(environment) { _, new in new })
                return (port, serve)
            }
            tlsPort = c2sPort + 1
        }

        var log: String { fileText(dir.file("serve.log")) }

        func jid(_ user: String) -> String { "\(user)@\(XMPPInteropTests.domain)" }

        /// Runs a scenario of `script` as `user` (and `second` where it needs two accounts).
        func run(_ script: String, _ scenario: String, as user: String = "alice", second: String? = "bob", port: Int? = nil,
                 extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
            var arguments = [XMPPInteropTests.scripts + "/" + script, scenario, "--host", "127.0.0.1", "--port", String(port ?? c2sPort),
                             "--domain", XMPPInteropTests.domain, "--ca", ca, "--jid", jid(user), "--password", Self.passwords[user]!]
            if let second { arguments += ["--jid2", jid(second), "--password2", Self.passwords[second]!] }
            return try runProcess("/usr/bin/python3", arguments + extra)
        }

        /// A `clients.py login` as `jid` with `password`; its exit status.
        func login(_ jid: String, password: String) throws -> Int32 {
            try runProcess("/usr/bin/python3", [XMPPInteropTests.scripts + "/clients.py", "login", "--port", String(c2sPort),
                                                "--domain", XMPPInteropTests.domain, "--ca", ca, "--jid", jid, "--password", password,
                                                "--timeout", "10"]).status
        }

        /// SIGTERM, wait, and return the log with the final counters.
        func stopGracefully() -> String {
            kill(serve.processIdentifier, SIGTERM)
            _ = eventually(timeout: 10) { !serve.isRunning }
            return log
        }

        func stop() {
            stopHard(serve)
            broker?.stop()
            dir.remove()
        }
    }

    func expectSuccess(_ result: (status: Int32, stdout: String, stderr: String), _ gateway: RunningGateway) {
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n--- serve.log ---\n\(gateway.log.suffix(4000))")
    }

    @Test func scramSHA256OverSTARTTLSAndDirectTLSLogIn() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        expectSuccess(try gateway.run("clients.py", "login", second: nil), gateway)
        expectSuccess(try gateway.run("clients.py", "login", second: nil, port: gateway.tlsPort, extra: ["--direct-tls"]), gateway)
        // A wrong password is refused by the same client.
        #expect(try gateway.login(gateway.jid("alice"), password: "not-the-password") != 0)
    }

    @Test func externalLogsInWithACertificateIssuedByTheAgoraCA() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        let key = gateway.dir.file("carol.key"), csr = gateway.dir.file("carol.csr"), cert = gateway.dir.file("carol.pem")
        let made = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                       "-keyout", key, "-out", csr, "-subj", "/CN=\(gateway.jid("carol"))"])
        #expect(made.status == 0, "\(made.stderr)")
        try gateway.cli.ok(["ca", "sign", csr, "--for", gateway.jid("carol")]).write(toFile: cert, atomically: true, encoding: .utf8)
        expectSuccess(try gateway.run("clients.py", "external", as: "carol", second: nil, extra: ["--cert", cert, "--key", key]), gateway)
        // The same certificate, revoked, no longer logs in.
        let serial = try runProcess("/usr/bin/openssl", ["x509", "-in", cert, "-noout", "-serial"]).stdout
            .split(separator: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        try gateway.cli.ok(["ca", "revoke", serial, "--reason", "keyCompromise"])
        let revoked = try gateway.run("clients.py", "external", as: "carol", second: nil, extra: ["--cert", cert, "--key", key, "--timeout", "10"])
        #expect(revoked.status != 0, "a revoked certificate still logged in")
    }

    /// aioxmpp, a second client library (PyPI, in the virtual environment install-deps.sh
    /// makes): it used to wait for ever at login, because the bind result came `from` the
    /// domain (RFC 6120 §8.1.2.1 allows none, or the account's bare JID).
    @Test func aioxmppLogsInExchangesAMessageAndAsksTheGatewaysServices() throws {
        let python = XMPPInteropTests.repository + "/.build-python/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "no \(python): run Scripts/install-deps.sh")
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        let result = try runProcess(python, [XMPPInteropTests.scripts + "/aioxmpp_client.py", "--host", "127.0.0.1", "--port", String(gateway.c2sPort),
                                             "--domain", XMPPInteropTests.domain, "--ca", gateway.ca,
                                             "--jid", gateway.jid("alice"), "--password", RunningGateway.passwords["alice"]!,
                                             "--jid2", gateway.jid("bob"), "--password2", RunningGateway.passwords["bob"]!])
        expectSuccess(result, gateway)
        #expect(result.stdout.contains("ok: bound alice@\(XMPPInteropTests.domain)/"), "\(result.stdout)")
    }

    @Test func twoUsersSubscribeExchangeMessagesAndPresence() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        expectSuccess(try gateway.run("clients.py", "chat"), gateway)
    }

    @Test func aMessageToAnOfflineUserArrivesAtItsNextLogin() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        expectSuccess(try gateway.run("clients.py", "offline"), gateway)
    }

    /// Issue 14, finding 6: one account could fill another's offline storage.
    @Test func oneSenderCannotFillAnotherAccountsOfflineStorage() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        expectSuccess(try gateway.run("clients.py", "offline-quota", extra: ["--jid3", gateway.jid("carol"),
                                                                             "--password3", RunningGateway.passwords["carol"]!]), gateway)
        _ = gateway.stopGracefully()
        let counters = try gateway.cli.lastRunCounters()
        #expect(counters["xmpp.offline_refused"] == "sender_bytes=8", "\(counters)")
    }

    @Test func pingDiscoVersionAndUnknownNamespacesAnswer() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        expectSuccess(try gateway.run("clients.py", "ping-disco", second: nil), gateway)
    }

    @Test func streamManagementResumptionAfterACutConnectionKeepsUnacknowledgedStanzas() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        expectSuccess(try gateway.run("clients.py", "sm-resume"), gateway)
        _ = gateway.stopGracefully()
        #expect(try gateway.cli.lastRunCounters()["xmpp.resumptions"] == "1", "\(gateway.log)")
    }

    @Test func hostileInputEndsOnlyTheOffendingStreamWhileAWellBehavedSessionKeepsPinging() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        let result = try gateway.run("hostile.py", "all", as: "alice", second: "bob", extra: ["--timeout", "240"])
        expectSuccess(result, gateway)
        // Refusals are counted and the server is still healthy afterwards.
        expectSuccess(try gateway.run("clients.py", "ping-disco", as: "carol", second: nil), gateway)
        #expect(!gateway.log.contains("alice-secret-1") && !gateway.log.contains("bob-secret-22"), "a password reached the log")
    }

    @Test func theServerPingsIdleClientsAndDropsTheOnesThatNeverAnswer() throws {
        let gateway = try RunningGateway(environment: ["AGORA_XMPP_PING_INTERVAL_S": "1"])
        defer { gateway.stop() }
        let silent = try gateway.run("hostile.py", "silent", second: nil, extra: ["--silent-wait", "8"])
        #expect(silent.status == 0, "\(silent.stdout)\(silent.stderr)")
        #expect(silent.stdout.contains("got connection-timeout"), "\(silent.stdout)")
        // The server is still serving others afterwards. (This short session does not prove that
        // a client answering the server's pings is kept: it ends before the first ping is due.)
        expectSuccess(try gateway.run("clients.py", "ping-disco", as: "bob", second: nil), gateway)
    }

    @Test func sessionAndConnectionLimitsAreRefusedWithTheirStreamErrors() throws {
        let limited = try RunningGateway(environment: ["AGORA_XMPP_MAX_SESSIONS": "1", "AGORA_XMPP_CONNECTION_RATE": "5"])
        defer { limited.stop() }
        let sessions = try limited.run("hostile.py", "max-sessions", second: nil)
        #expect(sessions.status == 0 && sessions.stdout.contains("got resource-constraint"), "\(sessions.stdout)\(sessions.stderr)")
        Thread.sleep(forTimeInterval: 1.5)  // refill the address's bucket
        let burst = try limited.run("hostile.py", "connection-rate", second: nil)
        #expect(burst.status == 0, "\(burst.stdout)\(burst.stderr)")
    }

    @Test func passwdChangesThePasswordAndTheOldOneStopsWorking() throws {
        let gateway = try RunningGateway()
        defer { gateway.stop() }
        let changed = try runProcess(agoraExecutable, ["user", "passwd", gateway.jid("alice"), "--password-stdin", "--state-dir", gateway.dir.file("state")],
                                     stdin: "a-brand-new-secret\n")
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(!changed.stdout.contains("a-brand-new-secret"))
        #expect(try gateway.login(gateway.jid("alice"), password: "a-brand-new-secret") == 0)
        #expect(try gateway.login(gateway.jid("alice"), password: RunningGateway.passwords["alice"]!) != 0)
        // A generated password is printed once and works.
        let generated = try runProcess(agoraExecutable, ["user", "passwd", gateway.jid("bob"), "--state-dir", gateway.dir.file("state")])
        let password = generated.stdout.split(separator: "\n").first { $0.hasPrefix("password: ") }.map { String($0.dropFirst("password: ".count)) }
        #expect(password?.count == 20)
        #expect(try gateway.login(gateway.jid("bob"), password: password ?? "") == 0)
    }
}
