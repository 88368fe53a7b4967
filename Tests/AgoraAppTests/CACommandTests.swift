import AgoraStore
import AgoraTestSupport
import Foundation
import Testing

/// `agora ca …` end to end, with OpenSSL making the CSRs and judging the results.
@Suite(.serialized) struct CACommandTests {
    struct Failure: Error, CustomStringConvertible { let description: String }

    final class Gateway {
        let dir: TemporaryDirectory
        var state: [String] { ["--state-dir", dir.file("state")] }

        init() throws {
            dir = try TemporaryDirectory("agora-ca")
            let result = try runProcess(agoraExecutable, ["init", "--domain", "gw1.example"] + ["--state-dir", dir.file("state")])
            guard result.status == 0 else { throw Failure(description: result.stderr) }
        }

        deinit { dir.remove() }

        func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runProcess(agoraExecutable, arguments + state)
        }

        func ok(_ arguments: [String]) throws -> String {
            let result = try run(arguments)
            guard result.status == 0 else { throw Failure(description: "\(arguments): \(result.stderr)") }
            return result.stdout
        }

        func openssl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runProcess("/usr/bin/openssl", arguments)
        }

        func csr(_ name: String, key: [String] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], subject: String, addext: [String] = []) throws -> String {
            let path = dir.file("\(name).csr")
            var args = ["req", "-new", "-nodes", "-keyout", dir.file("\(name).key"), "-out", path, "-subj", subject] + key
            for ext in addext { args += ["-addext", ext] }
            let result = try openssl(args)
            guard result.status == 0 else { throw Failure(description: result.stderr) }
            return path
        }

        var storeBytes: Data { get throws { try Data(contentsOf: URL(fileURLWithPath: dir.file("state/agora.mdb"))) } }
        var ledgerSize: Int {
            get throws {
                let status = try JSONSerialization.jsonObject(with: Data(try ok(["status", "--json"]).utf8)) as! [String: Any]
                return status["ledgerEntries"] as! Int
            }
        }
    }

    @Test func signedCertificatesVerifyAndRevocationReachesOpenSSLThroughTheCRL() throws {
        let g = try Gateway()
        let caPath = g.dir.file("ca.pem")
        try g.ok(["ca", "show"]).write(toFile: caPath, atomically: true, encoding: .utf8)
        let fingerprint = try g.ok(["ca", "show", "--fingerprint"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let opensslFingerprint = try g.openssl(["x509", "-in", caPath, "-noout", "-fingerprint", "-sha256"]).stdout
        #expect(opensslFingerprint.contains(fingerprint))

        var chains: [String: String] = [:]
        for (name, key) in [("p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]), ("ed25519", ["-newkey", "ed25519"]), ("rsa", ["-newkey", "rsa:2048"])] {
            let csr = try g.csr(name, key: key, subject: "/CN=\(name)")
            let chain = g.dir.file("\(name).pem")
            try g.ok(["ca", "sign", csr, "--for", "sensor:\(name)"]).write(toFile: chain, atomically: true, encoding: .utf8)
            let verified = try g.openssl(["verify", "-CAfile", caPath, chain])
            #expect(verified.status == 0, "\(name): \(verified.stdout) \(verified.stderr)")
            chains[name] = chain
        }
        let userCSR = try g.csr("alice", subject: "/CN=alice@gw1.example")
        let userChain = g.dir.file("alice.pem")
        try g.ok(["ca", "sign", userCSR, "--for", "alice@gw1.example", "--days", "30"]).write(toFile: userChain, atomically: true, encoding: .utf8)
        #expect(try g.openssl(["x509", "-in", userChain, "-noout", "-text"]).stdout.contains("alice@gw1.example"))

        // The ledger's cert.issue entries match the certs table.
        let listed = try JSONSerialization.jsonObject(with: Data(try g.ok(["ca", "list", "--json"]).utf8)) as! [[String: Any]]
        let entries = try JSONSerialization.jsonObject(with: Data(try g.ok(["ledger", "show", "--json"]).utf8)) as! [[String: Any]]
        let issued = entries.compactMap { $0["entry"] as? [String: Any] }.filter { $0["type"] as? String == "cert.issue" }
        #expect(Set(listed.map { $0["serial"] as! String }) == Set(issued.map { $0["serial"] as! String }))
        #expect(listed.count == 4)
        for entry in issued {
            // The ledger holds the certificate itself, and its fingerprint.
            let der = Data(base64Encoded: entry["certificate"] as! String)!
            let path = g.dir.file("from-ledger.der")
            try der.write(to: URL(fileURLWithPath: path))
            let printed = try g.openssl(["x509", "-inform", "DER", "-in", path, "-noout", "-fingerprint", "-sha256"]).stdout
            #expect(printed.replacingOccurrences(of: ":", with: "").lowercased().contains(entry["fingerprint"] as! String))
        }

        let serial = try #require(listed.first { ($0["subject"] as? String) == "sensor:p256" }?["serial"] as? String)
        _ = try g.ok(["ca", "revoke", serial, "--reason", "keyCompromise"])
        let crlPath = g.dir.file("agora.crl")
        try g.ok(["ca", "crl"]).write(toFile: crlPath, atomically: true, encoding: .utf8)
        let crl = try g.openssl(["crl", "-in", crlPath, "-noout", "-text"])
        #expect(crl.status == 0)
        #expect(crl.stdout.uppercased().contains(serial.uppercased()))
        let refused = try g.openssl(["verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, chains["p256"]!])
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("certificate revoked"))
        #expect(try g.openssl(["verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, chains["rsa"]!]).status == 0)
        // DER form parses too (through a shell redirect: the bytes are not text).
        let derPath = g.dir.file("agora.crl.der")
        let derCRL = try runProcess("/bin/sh", ["-c", "\(agoraExecutable) ca crl --der --state-dir \(g.dir.file("state")) > \(derPath)"])
        #expect(derCRL.status == 0)
        let parsedDER = try g.openssl(["crl", "-inform", "DER", "-in", derPath, "-noout", "-text"])
        #expect(parsedDER.status == 0 && parsedDER.stdout.uppercased().contains(serial.uppercased()))
        #expect(try g.ok(["ledger", "verify", "--replay"]).contains("certs"))
        // Revoking twice is refused.
        #expect(try g.run(["ca", "revoke", serial, "--reason", "keyCompromise"]).status == 1)
    }

    @Test func refusedCSRsSignNothingAndWriteNothing() throws {
        let g = try Gateway()
        let good = try g.csr("good", subject: "/CN=air-7")
        let derPath = g.dir.file("good.der")
        #expect(try g.openssl(["req", "-in", good, "-outform", "DER", "-out", derPath]).status == 0)
        var altered = try Data(contentsOf: URL(fileURLWithPath: derPath))
        altered[altered.count - 8] ^= 0x01
        let alteredPath = g.dir.file("altered.der")
        try altered.write(to: URL(fileURLWithPath: alteredPath))
        let bigPath = g.dir.file("big.csr")
        try Data(repeating: 0x41, count: 9 * 1024).write(to: URL(fileURLWithPath: bigPath))
        let garbagePath = g.dir.file("garbage.csr")
        try "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n".write(toFile: garbagePath, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            (alteredPath, "sensor:air-7"),
            (try g.csr("other", subject: "/CN=air-8"), "sensor:air-7"),
            (try g.csr("san", subject: "/CN=air-7", addext: ["subjectAltName=URI:urn:agora:sensor:air-8"]), "sensor:air-7"),
            (try g.csr("weak", key: ["-newkey", "rsa:1024"], subject: "/CN=air-7"), "sensor:air-7"),
            (bigPath, "sensor:air-7"),
            (garbagePath, "sensor:air-7"),
            (try g.csr("crit", subject: "/CN=air-7", addext: ["1.3.6.1.4.1.99999.1=critical,DER:05:00"]), "sensor:air-7"),
            (good, "alice@gw1.example"),
        ]
        let before = try g.storeBytes
        for (path, identity) in cases {
            let result = try g.run(["ca", "sign", path, "--for", identity])
            #expect(result.status == 1, "\(path): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        #expect(try g.storeBytes == before, "a refused CSR changed the store")
        #expect(try g.ledgerSize == 1)
    }

    @Test func serverCertificateFilesHaveTheRightModesAndProfile() throws {
        let g = try Gateway()
        let out = g.dir.file("tls")
        _ = try g.ok(["ca", "server-cert", "--dns", "gw1.example", "mqtt.gw1.example", "--out", out])
        let attributes = try FileManager.default.attributesOfItem(atPath: out + "/server.key")
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        let text = try g.openssl(["x509", "-in", out + "/server.pem", "-noout", "-text"]).stdout
        #expect(text.contains("DNS:gw1.example, DNS:mqtt.gw1.example"))
        #expect(text.contains("TLS Web Server Authentication"))
        // The key matches the certificate.
        let keyPub = try g.openssl(["pkey", "-in", out + "/server.key", "-pubout"]).stdout
        let certPub = try g.openssl(["x509", "-in", out + "/server.pem", "-noout", "-pubkey"]).stdout
        #expect(!keyPub.isEmpty && keyPub == certPub)
        #expect(try g.run(["ca", "server-cert", "--dns", "bad_name!", "--out", out]).status == 1)
    }

    @Test func anImportedCityRootSignsFromThenOnAndBadImportsAreRefused() throws {
        let g = try Gateway()
        func makeCA(_ name: String, ca: Bool, key: [String] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]) throws -> (cert: String, key: String) {
            let cert = g.dir.file("\(name).pem"), keyPath = g.dir.file("\(name).key")
            var args = ["req", "-x509", "-new", "-nodes", "-keyout", keyPath, "-out", cert, "-subj", "/CN=\(name)", "-days", "3650"] + key
            args += ca ? ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
                       : ["-addext", "basicConstraints=critical,CA:FALSE"]
            let result = try g.openssl(args)
            guard result.status == 0 else { throw Failure(description: result.stderr) }
            return (cert, keyPath)
        }
        let city = try makeCA("City Root", ca: true)
        let other = try makeCA("Other Root", ca: true)
        let leaf = try makeCA("Not A CA", ca: false)
        let rsa = try makeCA("RSA Root", ca: true, key: ["-newkey", "rsa:2048"])
        let before = try g.storeBytes
        for (cert, key) in [(leaf.cert, leaf.key), (city.cert, other.key), (rsa.cert, rsa.key), (g.dir.file("missing.pem"), city.key)] {
            let result = try g.run(["ca", "import", cert, key])
            #expect(result.status == 1, "\(cert): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        #expect(try g.storeBytes == before)

        _ = try g.ok(["ca", "import", city.cert, city.key])
        let expected = try g.openssl(["x509", "-in", city.cert, "-noout", "-fingerprint", "-sha256"]).stdout
        #expect(expected.contains(try g.ok(["ca", "show", "--fingerprint"]).trimmingCharacters(in: .whitespacesAndNewlines)))
        let csr = try g.csr("s", subject: "/CN=s1")
        let chain = g.dir.file("s-chain.pem")
        try g.ok(["ca", "sign", csr, "--for", "sensor:s1"]).write(toFile: chain, atomically: true, encoding: .utf8)
        #expect(try g.openssl(["verify", "-CAfile", city.cert, chain]).status == 0)
        let crl = g.dir.file("city.crl")
        try g.ok(["ca", "crl"]).write(toFile: crl, atomically: true, encoding: .utf8)
        #expect(try g.openssl(["crl", "-in", crl, "-noout", "-CAfile", city.cert]).status == 0)
        // Once it has issued, the CA cannot be swapped.
        #expect(try g.run(["ca", "import", other.cert, other.key]).status == 1)
        #expect(try g.ok(["ledger", "verify", "--replay"]).contains("ok: replay"))
    }

    @Test func aCRLPastHalfItsValidityIsResignedWithTheNextNumber() async throws {
        let g = try Gateway()
        let first = g.dir.file("first.crl")
        try g.ok(["ca", "crl"]).write(toFile: first, atomically: true, encoding: .utf8)
        #expect(try g.openssl(["crl", "-in", first, "-noout", "-crlnumber"]).stdout.contains("crlNumber=0x01"))
        // Age the stored CRL: its nextUpdate is now.
        let store = try Store(path: g.dir.file("state/agora.mdb"), logger: testLogger())
        try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("ca.crl_next_update"), StoreKey.u64(UInt64(Date().timeIntervalSince1970))) }
        store.close()
        let second = g.dir.file("second.crl")
        try g.ok(["ca", "crl"]).write(toFile: second, atomically: true, encoding: .utf8)
        let number = try g.openssl(["crl", "-in", second, "-noout", "-crlnumber"]).stdout
        #expect(number.contains("crlNumber=0x02") || number.contains("crlNumber=02"), "\(number)")
        let next = try g.openssl(["crl", "-in", second, "-noout", "-nextupdate"]).stdout
        #expect(!next.isEmpty)
    }

    @Test func nonFinalReasonsAndImpossibleValiditiesAreRefused() throws {
        let g = try Gateway()
        let csr = try g.csr("s", subject: "/CN=s1")
        _ = try g.ok(["ca", "sign", csr, "--for", "sensor:s1"])
        let serial = try #require((try JSONSerialization.jsonObject(with: Data(try g.ok(["ca", "list", "--json"]).utf8)) as? [[String: Any]])?.first?["serial"] as? String)
        for reason in ["removeFromCRL", "certificateHold", "bored"] {
            #expect(try g.run(["ca", "revoke", serial, "--reason", reason]).status == 1)
        }
        #expect(try g.run(["ca", "server-cert", "--dns", "gw1.example", "--days", "-5", "--out", g.dir.file("x")]).status != 0)
        #expect(try g.run(["ca", "sign", csr, "--for", "sensor:s1", "--days", "0"]).status == 1)
        #expect(try g.run(["ca", "sign", csr, "--for", "sensor:s1", "--days", "4000"]).status == 1)
    }
}
