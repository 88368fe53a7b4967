import AgoraTestSupport
import Foundation
import Testing

/// The operator mistakes a first trial tripped over, each now refused or named at once.
@Suite struct GuardRailTests {
    @Test func aSecondServeOnTheSameStateDirectoryIsRefusedAtOnceNamingTheFirst() throws {
        let dir = try TemporaryDirectory("agora-serve-lock")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        let environment = ["AGORA_XMPP_BIND_ADDRESS": "127.0.0.1"]
        let first = try withFreePorts(2) { port in
            try startServe(stateDirectory: dir.file("state"), log: dir.file("first.log"),
                           environment: environment.merging(["AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)"]) { _, new in new })
        }
        defer { stopHard(first) }
        // The second asks for other ports: it must be the lock that stops it, not a bind.
        let second = try withFreePorts(2) { port in
            try runBounded(["serve", "--state-dir", dir.file("state")], log: dir.file("second.log"), environment: environment.merging([
                "AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)", "AGORA_HTTP_PORT": "0"]) { _, new in new })
        }
        #expect(second.status != 0)
        #expect(second.stderr.contains("another agora serve is running on it (pid \(first.processIdentifier))"), "\(second.stderr)")
        #expect(!second.stderr.contains("ready"), "\(second.stderr)")
        #expect(first.isRunning, "the first one must be left alone")

        // Once the first has gone (even killed: the kernel drops the lock), a new one starts.
        stopHard(first)
        let third = try withFreePorts(2) { port in
            try startServe(stateDirectory: dir.file("state"), log: dir.file("third.log"),
                           environment: environment.merging(["AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)"]) { _, new in new })
        }
        stopHard(third)
    }

    @Test func aTakenPortIsNamedWithItsAddressAndTheSystemsWordsAndNothingClaimsToRun() throws {
        let dir = try TemporaryDirectory("agora-bind-error")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        let holder = try Process.listening()
        defer { stopHard(holder.process) }
        let result = try runBounded(["serve", "--state-dir", dir.file("state")], log: dir.file("serve.log"), environment: [
            "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1", "AGORA_XMPP_C2S_PORT": "\(holder.port)", "AGORA_XMPP_TLS_PORT": "0", "AGORA_HTTP_PORT": "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("agora: error: cannot listen on 127.0.0.1:\(holder.port): address already in use"), "\(result.stderr)")
        #expect(result.stderr.filter { $0 == "(" }.count == result.stderr.filter { $0 == ")" }.count, "unbalanced: \(result.stderr)")
        #expect(!result.stderr.contains("serve running") && !result.stderr.contains("serve ready"), "\(result.stderr)")
    }

    @Test func anEnvironmentVariableNamingNoKeyOfItsSectionIsRefusedListingTheRealOnes() throws {
        let dir = try TemporaryDirectory("agora-env-typo")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        let typo = try cli.run(["status"], environment: ["AGORA_XMPP_PORT": "6222"])
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("unknown configuration variable AGORA_XMPP_PORT") && typo.stderr.contains("AGORA_XMPP_C2S_PORT"), "\(typo.stderr)")
        // Variables that claim no section (the scripts' own) are not the configuration's business.
        #expect(try cli.run(["status"], environment: ["AGORA_BIN": "/x", "AGORA_XMPP_C2S_PORT": "6222"]).status == 0)
    }

    @Test func anAccountOutsideTheGatewaysDomainNeedsRemoteAndThenHasNoPassword() throws {
        let dir = try TemporaryDirectory("agora-remote-account")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        let typo = try cli.run(["user", "add", "alice@gw1.exmaple", "--role", "consumer"])
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("is not in this gateway's domain gw1.example") && typo.stderr.contains("--remote"), "\(typo.stderr)")
        #expect(!(try cli.ok(["user", "list"])).contains("exmaple"), "a refused account must not exist")

        let remote = try cli.ok(["user", "add", "carol@gw2.example", "--role", "consumer", "--remote"])
        #expect(remote.contains("opened remote account carol@gw2.example") && !remote.contains("password"), "\(remote)")
        #expect(try cli.run(["user", "add", "dave@gw1.example", "--role", "consumer", "--remote"]).status != 0, "a local account is not remote")
    }

    @Test func sensorListShowsInvitationsNotYetPairedWithoutTheirCodes() throws {
        let dir = try TemporaryDirectory("agora-pending")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        try cli.ok(["user", "add", "owner@gw1.example", "--role", "owner"])
        try cli.ok(["sensor", "add", "paired-1", "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"])
        let invite = try cli.ok(["sensor", "invite", "lamp-7", "--owner", "owner@gw1.example", "--kind", "no2", "--price", "2", "--ttl", "2h"])
        let code = invite.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.count == 24 && $0.filter { $0 == "-" }.count == 4 }.map(String.init)
        let list = try cli.ok(["sensor", "list"])
        let line = list.split(separator: "\n").first { $0.hasPrefix("lamp-7\t") }.map(String.init) ?? ""
        #expect(line.contains("owner@gw1.example") && line.contains("invited, not paired") && line.contains("code valid until"), "\(list)")
        #expect(list.contains("paired-1\t"), "\(list)")
        if let code { #expect(!list.contains(code), "the code is shown once, at invite") }

        let json = try JSONSerialization.jsonObject(with: Data(try cli.ok(["sensor", "list", "--pending", "--json"]).utf8)) as? [[String: Any]]
        #expect(json?.count == 1 && json?.first?["sensor"] as? String == "lamp-7" && json?.first?["expired"] as? Bool == false, "\(String(describing: json))")
        #expect(json?.first?["key"] == nil, "the code's hash stays in the store")
        let sensors = try JSONSerialization.jsonObject(with: Data(try cli.ok(["sensor", "list", "--json"]).utf8)) as? [Any]
        #expect(sensors?.count == 1, "--json without --pending is still the sensors' array")
    }

    @Test func serveOnThePairingListenerSaysSoAndIsNeverReady() throws {
        let httpPort = try freePorts(1)
        let dir = try TemporaryDirectory("agora-wrong-listener")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        let mosquitto = try Mosquitto(cli: cli, out: dir.file("broker"), log: dir.file("mosquitto.log"))
        defer { mosquitto.stop() }
        let serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: mqttOnlyEnvironment.merging([
            "AGORA_HTTP_PORT": "\(httpPort)", "AGORA_MQTT_PORT": "\(mosquitto.pairingPort)"]) { _, new in new })
        defer { stopHard(serve) }
        try waitUntil("serve says the broker does not deliver to it", timeout: 40, details: { fileText(dir.file("serve.log")).suffix(3000).description }) {
            fileText(dir.file("serve.log")).contains("is the pairing listener")
        }
        let readyz = try httpGet("http://127.0.0.1:\(httpPort)/readyz")
        #expect(readyz.code == 503 && readyz.body.contains("pairing listener"), "\(readyz)")
        #expect(!fileText(dir.file("serve.log")).contains("subscribed to sensor readings"))
    }

    @Test func aBrokerCertificateThatDoesNotNameTheHostIsCalledANameMismatch() throws {
        let dir = try TemporaryDirectory("agora-tls-name")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw1.example"])
        let mosquitto = try Mosquitto(cli: cli, out: dir.file("broker"), log: dir.file("mosquitto.log"))
        defer { mosquitto.stop() }
        // The broker's certificate names only localhost; 127.0.0.1 is the same listener
        // under a name the certificate does not carry.
        let serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: mqttOnlyEnvironment.merging([
            "AGORA_MQTT_HOST": "127.0.0.1"]) { _, new in new })
        defer { stopHard(serve) }
        try waitUntil("serve names the TLS name mismatch", timeout: 40, details: { fileText(dir.file("serve.log")).suffix(3000).description }) {
            fileText(dir.file("serve.log")).contains("TLS name mismatch")
        }
        #expect(fileText(dir.file("serve.log")).contains("does not name 127.0.0.1"))
        #expect(fileText(dir.file("serve.log")).contains("A TLS error occurred"), "libmosquitto's result in words, not a number")
    }
}

/// Runs `agora ARGUMENTS` that must end by itself within `seconds`: its status and its
/// output (stdout and stderr together, as `stderr`). One that is still running is killed and
/// reported, so a regression fails the test instead of hanging the run.
func runBounded(_ arguments: [String], log: String, environment: [String: String], seconds: Double = 30) throws -> (status: Int32, stderr: String) {
    let process = try spawn(agoraExecutable, arguments, log: log, environment: environment)
    guard eventually(timeout: seconds, { !process.isRunning }) else {
        stopHard(process)
        throw AgoraCLI.Failure(description: "agora \(arguments) still ran after \(seconds) s:\n\(fileText(log).suffix(3000))")
    }
    process.waitUntilExit()
    return (process.terminationStatus, fileText(log))
}

extension Process {
    /// A listener on a free loopback port, held by a child process (so the test's own
    /// process opens no socket that `agora serve` could inherit).
    static func listening() throws -> (process: Process, port: Int) {
        try withFreePorts(1) { port in
            let process = try spawn("/usr/bin/python3", ["-c", """
                import socket, time
                s = socket.socket(); s.bind(("127.0.0.1", \(port))); s.listen(); print("ok", flush=True); time.sleep(120)
                """], log: "/dev/null")
            guard eventually(timeout: 10, { (try? runProcess("/bin/sh", ["-c", "ss -ltn | grep -q ':\(port) '"]).status) == 0 }) else {
                stopHard(process)
                throw PortTaken(description: "the holder did not bind \(port)")
            }
            return (process, port)
        }
    }
}
