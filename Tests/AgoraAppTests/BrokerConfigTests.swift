import AgoraTestSupport
import Foundation
import Testing

/// `agora broker-config` against a real Mosquitto, with mosquitto_pub/mosquitto_sub and
/// OpenSSL-made sensor keys as the independent clients.
@Suite(.serialized) struct BrokerConfigTests {
    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test func theGeneratedBrokerRequiresAgoraCertificatesAndPinsSensorsToTheirTopics() throws {
        let dir = try TemporaryDirectory("agora-broker")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }
        _ = try agora(["init", "--domain", "gw1.example"])
        let broker = dir.file("broker")
        let mosquitto = try Mosquitto(cli: cli, out: broker, log: dir.file("mosquitto.log"))
        defer { mosquitto.stop() }
        let port = mosquitto.port
        #expect(try FileManager.default.attributesOfItem(atPath: dir.file("state/mqtt/gateway.key"))[.posixPermissions] as? Int == 0o600)

        // A sensor key and certificate, made by OpenSSL and signed by `agora ca sign`.
        let openssl = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                          "-keyout", dir.file("s1.key"), "-out", dir.file("s1.csr"), "-subj", "/CN=s1"])
        #expect(openssl.status == 0)
        try agora(["ca", "sign", dir.file("s1.csr"), "--for", "sensor:s1"]).write(toFile: dir.file("s1.pem"), atomically: true, encoding: .utf8)

        let tls = ["-I", "client:", "-h", "localhost", "--cafile", broker + "/ca.pem"]  // every client id begins with "client:"
        let gateway = tls + ["-p", String(port), "--cert", dir.file("state/mqtt/gateway.pem"), "--key", dir.file("state/mqtt/gateway.key")]
        let sensor = tls + ["-p", String(port), "--cert", dir.file("s1.pem"), "--key", dir.file("s1.key"), "-q", "1"]
        let anonymous = tls + ["-p", String(port + 1), "-q", "1"]

        // The gateway listens to everything while the others publish.
        let subscriber = Process()
        // Exits after the two messages that may pass; the forbidden ones are sent first, so a
        // leak would be among those two.
        subscriber.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        subscriber.arguments = gateway + ["-t", "agora/#", "-v", "-q", "1", "-C", "2"]
        _ = FileManager.default.createFile(atPath: dir.file("received.txt"), contents: nil)
        let received = FileHandle(forWritingAtPath: dir.file("received.txt"))!
        subscriber.standardOutput = received
        subscriber.standardError = received
        subscriber.standardInput = FileHandle.nullDevice
        try subscriber.run()
        defer { stopHard(subscriber) }
        // On the certificate listener the broker takes the certificate's CN as the client id.
        try mosquitto.waitUntilSubscribed("agora:gateway", to: "agora/#")

        func publish(_ arguments: [String], topic: String, message: String) throws -> Int32 {
            try runProcess("/usr/bin/mosquitto_pub", arguments + ["-t", topic, "-m", message]).status
        }
        _ = try publish(sensor, topic: "agora/sensors/s2/senml", message: "foreign-topic")
        _ = try publish(anonymous, topic: "agora/sensors/s1/senml", message: "anonymous-reading")
        // No client certificate on the sensor listener: the connection is refused.
        #expect(try publish(tls + ["-p", String(port), "-q", "1"], topic: "agora/sensors/s1/senml", message: "no-certificate") != 0)
        // A certificate from another CA is refused too.
        _ = try runProcess("/usr/bin/openssl", ["req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-keyout", dir.file("rogue.key"), "-out", dir.file("rogue.pem"), "-subj", "/CN=s1", "-days", "1"])
        #expect(try publish(tls + ["-p", String(port), "--cert", dir.file("rogue.pem"), "--key", dir.file("rogue.key")],
                            topic: "agora/sensors/s1/senml", message: "rogue") != 0)
        #expect(try publish(sensor, topic: "agora/sensors/s1/senml", message: "own-topic") == 0)
        #expect(try publish(anonymous, topic: "agora/pair/s9/request", message: "pairing-request") == 0)

        if !eventually(timeout: 10, { !subscriber.isRunning }) {
            kill(subscriber.processIdentifier, SIGKILL)
            Issue.record("the gateway's subscriber did not receive the two permitted messages in time")
        }
        subscriber.waitUntilExit()
        let seen = try String(contentsOfFile: dir.file("received.txt"), encoding: .utf8)

        // Revoking s1's certificate rewrites the broker's CRL; after a restart the broker refuses it.
        let serial = try #require((try JSONSerialization.jsonObject(with: Data(try agora(["ca", "list", "--json"]).utf8)) as? [[String: Any]])?
            .first { $0["subject"] as? String == "sensor:s1" }?["serial"] as? String)
        _ = try agora(["ca", "revoke", serial, "--reason", "keyCompromise"])
        try mosquitto.restart()
        #expect(try publish(sensor, topic: "agora/sensors/s1/senml", message: "after-revoke") != 0, "a revoked certificate still connects")
        #expect(try publish(gateway + ["-q", "1"], topic: "agora/gateway/status", message: "still-fine") == 0, "the gateway was locked out")
        #expect(seen.contains("agora/sensors/s1/senml own-topic"), "\(seen)")
        #expect(seen.contains("agora/pair/s9/request pairing-request"), "\(seen)")
        #expect(!seen.contains("foreign-topic"), "the ACL let s1 publish as s2")
        #expect(!seen.contains("anonymous-reading"), "the bootstrap listener let a reading through")
        #expect(!seen.contains("no-certificate") && !seen.contains("rogue"))
    }

    /// `--install` against a copy of Debian's own /etc/mosquitto layout: the main config
    /// includes conf.d, sets persistence itself and must still start with our listeners in it.
    @Test func installWiresDebiansMosquittoThroughConfD() throws {
        let dir = try TemporaryDirectory("agora-broker-install")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        _ = try cli.ok(["init", "--domain", "gw1.example"])
        // The state directory belongs to the service user; broker-config runs as root. What
        // the service user may have planted there must not redirect the hand-back.
        #expect(chown(dir.file("state"), 65534, 65534) == 0)
        try "root's".write(toFile: dir.file("outside"), atomically: true, encoding: .utf8)
        #expect(link(dir.file("outside"), dir.file("state/hard-link")) == 0)
        #expect(symlink(dir.file("outside"), dir.file("state/soft-link")) == 0)
        try FileManager.default.createDirectory(atPath: dir.file("outside-dir"), withIntermediateDirectories: false)
        try "root's too".write(toFile: dir.file("outside-dir/file"), atomically: true, encoding: .utf8)
        #expect(symlink(dir.file("outside-dir"), dir.file("state/dir-link")) == 0)

        let etc = dir.file("etc-mosquitto")
        try FileManager.default.createDirectory(atPath: etc + "/conf.d", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("persistence"), withIntermediateDirectories: true)
        #expect(chmod(dir.file("persistence"), 0o777) == 0)
        let debian = try String(contentsOfFile: "/etc/mosquitto/mosquitto.conf", encoding: .utf8)
        #expect(debian.contains("include_dir /etc/mosquitto/conf.d") && debian.contains("persistence_location"))
        let main = debian.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("include_dir ") { return "include_dir \(etc)/conf.d" }
            if line.hasPrefix("pid_file ") { return "" }
            if line.hasPrefix("log_dest ") { return "log_dest stderr" }
            if line.hasPrefix("persistence_location ") { return "persistence_location \(dir.file("persistence"))/" }
            return String(line)
        }.joined(separator: "\n")
        try main.write(toFile: etc + "/mosquitto.conf", atomically: true, encoding: .utf8)

        #expect(try cli.run(["broker-config", "--install", "--mosquitto-dir", dir.file("missing")]).status != 0)
        var out = ""
        let mosquitto = try Mosquitto(log: dir.file("mosquitto.log")) { port in
            out = try cli.ok(["broker-config", "--install", "--mosquitto-dir", etc, "--host", "127.0.0.1",
                              "--port-tls", String(port), "--port-pair", String(port + 1)])
            return etc + "/mosquitto.conf"
        }
        defer { mosquitto.stop() }
        let port = mosquitto.port
        #expect(out.contains("systemctl restart mosquitto"))
        let snippet = try String(contentsOfFile: etc + "/conf.d/agora.conf", encoding: .utf8)
        #expect(snippet.contains("listener \(port) 127.0.0.1") && snippet.contains("\(etc)/agora/acl"))
        #expect(!snippet.contains("\npersistence_location"))
        #expect(FileManager.default.fileExists(atPath: etc + "/agora/broker.key"))
        for file in ["mqtt", "mqtt/gateway.key", "mqtt/gateway.pem", "agora.mdb", "agora.mdb-lock", "xmpp"] where FileManager.default.fileExists(atPath: dir.file("state/\(file)")) {
            #expect(try FileManager.default.attributesOfItem(atPath: dir.file("state/\(file)"))[.ownerAccountID] as? Int == 65534, "\(file)")
        }
        for planted in ["outside", "outside-dir", "outside-dir/file"] {
            #expect(try FileManager.default.attributesOfItem(atPath: dir.file(planted))[.ownerAccountID] as? Int == 0, "followed a planted link to \(planted)")
        }

        // Debian's configuration with our listeners in it started (or the `Mosquitto` above had thrown).
        #expect(mosquitto.process.isRunning, "\(mosquitto.log)")
        // The gateway's recorded identity gets through the installed TLS listener.
        let published = try runProcess("/usr/bin/mosquitto_pub", ["-I", "client:", "-h", "127.0.0.1", "-p", String(port), "--cafile", etc + "/agora/ca.pem",
                                                                  "--cert", dir.file("state/mqtt/gateway.pem"), "--key", dir.file("state/mqtt/gateway.key"),
                                                                  "-q", "1", "-t", "agora/status/probe", "-m", "up"])
        #expect(published.status == 0, "\(published.stderr)")
    }
}
