import AgoraStore
import AgoraTestSupport
import Foundation
import Testing

/// Pairing over MQTT end to end: `agora sensor invite`, a real Mosquitto from
/// `agora broker-config`, `agora serve`, and a sensor played by OpenSSL (key, CSR), Python
/// (the HMAC proof) and mosquitto_pub/mosquitto_sub on the bootstrap listener.
@Suite(.serialized) struct PairingTests {
    struct Failure: Error, CustomStringConvertible { let description: String }

    final class Rig {
        let dir: TemporaryDirectory
        var broker: String { dir.file("broker") }
        private(set) var mosquitto: Mosquitto!
        private(set) var serve: Process!
        /// The certificate listener (the pairing listener is `port + 1`).
        var port: Int { mosquitto.port }

        init() throws {
            dir = try TemporaryDirectory("agora-pairing")
            _ = try agora(["init", "--domain", "gw1.example"])
            _ = try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
            mosquitto = try Mosquitto(cli: AgoraCLI(stateDirectory: dir.file("state")), out: broker, log: dir.file("mosquitto.log"))
            serve = try startServe(stateDirectory: dir.file("state"), log: dir.file("serve.log"), environment: mqttOnlyEnvironment)
            // A request published before the gateway has subscribed would reach nobody.
            try mosquitto.waitForGateway()
        }

        deinit {
            if let serve { stopHard(serve) }
            mosquitto?.stop()
            dir.remove()
        }

        @discardableResult
        func agora(_ arguments: [String]) throws -> String { try AgoraCLI(stateDirectory: dir.file("state")).ok(arguments) }

        func spawn(_ executable: String, _ arguments: [String], log: String) throws -> Process {
            try AgoraTestSupport.spawn(executable, arguments, log: log)
        }

        func invite(_ id: String, ttl: String = "1h") throws -> String {
            try agora(["sensor", "invite", id, "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "2", "--ttl", ttl])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// A key and CSR for `cn`, made by OpenSSL.
        func csr(_ name: String, cn: String) throws -> String {
            let result = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                             "-keyout", dir.file("\(name).key"), "-out", dir.file("\(name).csr"), "-subj", "/CN=\(cn)"])
            guard result.status == 0 else { throw Failure(description: result.stderr) }
            return dir.file("\(name).csr")
        }

        /// The request JSON a sensor sends: proof = HMAC-SHA256(SHA-256("agora-pair:" + code), CSR DER), computed by Python.
        func request(csr: String, code: String) throws -> String {
            let script = """
            import base64, hashlib, hmac, json, ssl, sys
            pem = open(sys.argv[1]).read()
            der = ssl.PEM_cert_to_DER_cert(pem.replace("CERTIFICATE REQUEST", "CERTIFICATE"))
            key = hashlib.sha256(("agora-pair:" + sys.argv[2]).encode()).digest()
            print(json.dumps({"csr": pem, "proof": base64.b64encode(hmac.new(key, der, hashlib.sha256).digest()).decode()}))
            """
            let result = try runProcess("/usr/bin/python3", ["-c", script, csr, code])
            guard result.status == 0 else { throw Failure(description: result.stderr) }
            return result.stdout
        }

        /// Sends `payload` on the bootstrap listener as `id` and returns the response JSON.
        func pair(_ id: String, payload: String) throws -> [String: Any] {
            let tls = ["-h", "localhost", "-p", String(port + 1), "--cafile", broker + "/ca.pem", "-q", "1"]
            try? FileManager.default.removeItem(atPath: dir.file("response-\(id).json")) // spawn appends
            // Client ids begin with "client:" (BrokerConfiguration). A fresh id per call: the
            // broker's log still holds the previous call's subscription line, which would end
            // the wait below before this subscriber is subscribed.
            let subscriberID = "client:sub-\(id)-\(UUID().uuidString.prefix(8))"
            let subscriber = try spawn("/usr/bin/mosquitto_sub", tls + ["-i", subscriberID, "-t", "agora/pair/\(id)/response", "-C", "1"], log: dir.file("response-\(id).json"))
            do {
                try mosquitto.waitUntilSubscribed(subscriberID, to: "agora/pair/\(id)/response")
            } catch {
                stopHard(subscriber)
                throw error
            }
            let file = dir.file("request-\(id).json")
            try payload.write(toFile: file, atomically: true, encoding: .utf8)
            let sent = try runProcess("/usr/bin/mosquitto_pub", tls + ["-i", "client:pub-\(id)", "-t", "agora/pair/\(id)/request", "-f", file])
            guard sent.status == 0 else { throw Failure(description: sent.stderr) }
            if !eventually(timeout: 10, { !subscriber.isRunning }) { stopHard(subscriber); throw Failure(description: "no pairing response for \(id)") }
            let text = try String(contentsOfFile: dir.file("response-\(id).json"), encoding: .utf8)
            return try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        }

        var sensorCount: Int { get throws { (try JSONSerialization.jsonObject(with: Data(try agora(["sensor", "list", "--json"]).utf8)) as! [Any]).count } }
    }

    @Test func aSensorPairsThenPublishesWithItsNewCertificate() throws {
        let rig = try Rig()
        let code = try rig.invite("s9")
        #expect(code.count == 24)
        let response = try rig.pair("s9", payload: try rig.request(csr: try rig.csr("s9", cn: "s9"), code: code))
        #expect(response["status"] as? String == "ok", "\(response)")
        let chain = try #require(response["cert"] as? String)
        try chain.write(toFile: rig.dir.file("s9.pem"), atomically: true, encoding: .utf8)
        let verified = try runProcess("/usr/bin/openssl", ["verify", "-CAfile", rig.broker + "/ca.pem", rig.dir.file("s9.pem")])
        #expect(verified.status == 0)
        // Registered with the invitation's terms and the certificate's serial.
        let sensors = try JSONSerialization.jsonObject(with: Data(try rig.agora(["sensor", "list", "--json"]).utf8)) as! [[String: Any]]
        let registration = try #require(sensors.first?["registration"] as? [String: Any])
        #expect(registration["sensor"] as? String == "s9" && registration["price"] as? Int == 2)
        #expect((registration["cert"] as? String)?.count == 32)
        // The paired sensor publishes over the certificate listener; serve stores it.
        let now = Int(Date().timeIntervalSince1970)
        let published = try runProcess("/usr/bin/mosquitto_pub", ["-I", "client:", "-h", "localhost", "-p", String(rig.port), "--cafile", rig.broker + "/ca.pem",
                                                                 "--cert", rig.dir.file("s9.pem"), "--key", rig.dir.file("s9.key"), "-q", "1",
                                                                 "-t", "agora/sensors/s9/senml", "-m", #"[{"n":"pm25","t":\#(now - 5),"v":7.5}]"#])
        #expect(published.status == 0)
        var stored = ""
        _ = try eventually(timeout: 5, interval: 0.1) {
            stored = try rig.agora(["readings", "export", "--sensor", "s9", "--format", "json"])
            return stored.contains("7.5")
        }
        #expect(stored.contains(#""v":7.5"#))
        // The code was used: a second request with it is refused and changes nothing.
        let again = try rig.pair("s9", payload: try rig.request(csr: try rig.csr("s9b", cn: "s9"), code: code))
        #expect(again["status"] as? String == "error")
        #expect(try rig.sensorCount == 1)
        _ = try rig.agora(["ledger", "verify", "--replay"])
    }

    @Test func badPairingRequestsGetAReasonAndChangeNothing() async throws {
        let rig = try Rig()
        let code = try rig.invite("s7")
        let goodCSR = try rig.csr("s7", cn: "s7")
        let before = try rig.agora(["ledger", "show", "--json"])
        let cases: [(String, String, String)] = [
            ("s7", try rig.request(csr: goodCSR, code: "AAAA-BBBB-CCCC-DDDD-EEEE"), "wrong proof"),
            ("s7", try rig.request(csr: try rig.csr("other", cn: "s8"), code: code), "CN=s8"),
            ("s7", "{not json", "not a pairing request"),
            ("s7", #"{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n","proof":"AAAA"}"#, "PKCS#10"),
            ("s7", String(repeating: "x", count: 20_000), "larger than"),
            ("s6", try rig.request(csr: try rig.csr("s6", cn: "s6"), code: code), "no invitation"),
        ]
        for (id, payload, reason) in cases {
            let response = try rig.pair(id, payload: payload)
            #expect(response["status"] as? String == "error", "\(reason): \(response)")
            #expect((response["reason"] as? String)?.contains(reason) == true, "\(reason): \(response)")
        }
        #expect(try rig.agora(["ledger", "show", "--json"]) == before)
        #expect(try rig.sensorCount == 0)
        // An expired invitation is refused (its expiry moved into the past, as time would).
        let expiring = try rig.invite("s4")
        let store = try Store(path: rig.dir.file("state/agora.mdb"), logger: testLogger())
        try await store.write { txn in
            var row = try JSONSerialization.jsonObject(with: Data(try txn.get(store.tables.pairing, StoreKey.text("s4"))!)) as! [String: Any]
            row["expires"] = "2020-01-01T00:00:00Z"
            try txn.put(store.tables.pairing, StoreKey.text("s4"), Array(try JSONSerialization.data(withJSONObject: row)))
        }
        store.close()
        let expired = try rig.pair("s4", payload: try rig.request(csr: try rig.csr("s4", cn: "s4"), code: expiring))
        #expect((expired["reason"] as? String)?.contains("expired") == true, "\(expired)")
        #expect(try rig.sensorCount == 0)

        // After all those refusals the invitation still works.
        let ok = try rig.pair("s7", payload: try rig.request(csr: goodCSR, code: code))
        #expect(ok["status"] as? String == "ok", "\(ok)")
    }
    /// Issue 14, finding 4: 22 400 junk requests in 6 s kept a device with a valid code from
    /// an answer until the flood stopped, and wrote 5 567 unthrottled warning lines.
    @Test func aPairingFloodIsThrottledAndAValidRequestStillGetsThrough() throws {
        let rig = try Rig()
        let code = try rig.invite("s5")
        let request = try rig.request(csr: try rig.csr("s5", cn: "s5"), code: code)
        // Four anonymous flooders, each sending batches of 2000 junk requests for made-up ids as
        // fast as mosquitto_pub sends them, again and again until the genuine request is answered.
        let junk = (0..<2000).map { #"{"csr":"x\#($0)","proof":"AAAA"}"# }.joined(separator: "\n") + "\n"
        try junk.write(toFile: rig.dir.file("junk.txt"), atomically: true, encoding: .utf8)
        // The loops run while the flag file exists. Killing a loop would orphan its running
        // mosquitto_pub, which reconnects for ever once the broker is gone, so the flood ends
        // by removing the flag: each loop finishes its batch and exits. Also when the test throws.
        let flooding = rig.dir.file("flooding")
        _ = FileManager.default.createFile(atPath: flooding, contents: nil)
        var flooders: [Process] = []
        func stopFlood() {
            try? FileManager.default.removeItem(atPath: flooding)
            _ = eventually(timeout: 20) { flooders.allSatisfy { !$0.isRunning } }
            flooders.forEach(stopHard)
        }
        defer { stopFlood() }
        for n in 0..<4 {
            let send = "/usr/bin/mosquitto_pub -h localhost -p \(rig.port + 1) --cafile \(rig.broker)/ca.pem -i client:flood-\(n) -q 0 -t agora/pair/junk-\(n)-$i/request -l < \(rig.dir.file("junk.txt"))"
            flooders.append(try rig.spawn("/bin/sh", ["-c", "i=0; while [ -e \(flooding) ]; do i=$((i+1)); \(send); done"], log: rig.dir.file("flood-\(n).log")))
        }
        // The genuine request goes out once the flood is being throttled.
        try waitUntil("the gateway is rate-limiting the flood", details: { fileText(rig.dir.file("serve.log")).suffix(3000).description }) {
            fileText(rig.dir.file("serve.log")).contains("over the rate limit")
        }
        let response = try rig.pair("s5", payload: request)
        let stillFlooding = flooders.allSatisfy { $0.isRunning }
        stopFlood()
        #expect(stillFlooding, "a flooder stopped early: \((try? String(contentsOfFile: rig.dir.file("flood-0.log"), encoding: .utf8)) ?? "")")
        #expect(response["status"] as? String == "ok", "a valid pairing request got no success under flood: \(response)")
        Thread.sleep(forTimeInterval: 1.0)

        // Wrong proofs lock an invited id: after five, even the right code must wait.
        let code6 = try rig.invite("s6")
        let good6 = try rig.request(csr: try rig.csr("s6", cn: "s6"), code: code6)
        let bad6 = try rig.request(csr: rig.dir.file("s6.csr"), code: "AAAA-BBBB-CCCC-DDDD-EEEE")
        for attempt in 0..<5 {
            let refused = try rig.pair("s6", payload: bad6)
            #expect((refused["reason"] as? String)?.contains("wrong proof") == true, "attempt \(attempt): \(refused)")
            Thread.sleep(forTimeInterval: 0.5)  // the per-id bucket is not what is tested here
        }
        let locked = try rig.pair("s6", payload: good6)
        #expect((locked["reason"] as? String)?.contains("too many wrong proofs") == true, "\(locked)")
        #expect(try rig.sensorCount == 1)

        // The refusals were counted, and the log stayed short.
        let serve: Process = rig.serve
        kill(serve.processIdentifier, SIGTERM)
        _ = eventually(timeout: 10) { !serve.isRunning }
        let log = try String(contentsOfFile: rig.dir.file("serve.log"), encoding: .utf8)
        let rateLimited = log.components(separatedBy: "pairing.rate_limited=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(rateLimited > 1_000, "\(log.suffix(2000))")
        let pairingLines = log.split(separator: "\n").filter { $0.contains("pairing") }.count
        #expect(pairingLines < 100, "\(pairingLines) log lines about pairing")
    }
}
