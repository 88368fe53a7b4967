import AgoraLedger
import AgoraStore
import AgoraTestSupport
import Foundation
import Logging
import Testing

/// A split view, built on purpose: a test-only forger takes a copy of a gateway's store —
/// its entries and its sealed log key — and makes another history with the same key and a
/// different entry at index i, below what the witness has cosigned. The witness that
/// cosigned the real history refuses the fork (409 at the same size, 422 grown past it),
/// records nothing, and says so; `agora ledger verify --against` the forged checkpoint
/// reports the fork with both checkpoints.
@Suite struct WitnessForkTests {
    /// The forger: everything a dishonest operator of gw1 has (the store and the key-encryption key).
    struct Forger {
        let entries: [[UInt8]]
        let signer: NoteSigner

        init(copyOf state: String, origin: String, entries count: Int, cli: AgoraCLI) throws {
            entries = try (0..<count).map { index in
                let receipt = try JSONSerialization.jsonObject(with: Data(try cli.ok(["ledger", "receipt", String(index)]).utf8)) as! [String: Any]
                return Array(Data(base64Encoded: receipt["entry"] as! String)!)
            }
            let kek = try KeyEncryptionKey(loadingFrom: state + "/agora.kek")
            let store = try Store(path: state + "/" + Store.fileName, logger: Logger(label: "forger"))
            defer { store.close() }
            let keys = KeyStore(kek: kek, tables: store.tables)
            signer = try NoteSigner(name: origin, rawPrivateKey: try store.read { try keys.open(NoteSigner.keyStoreName, in: $0) }.bytes)
        }

        /// The history with entry `index` altered (one byte of its JSON changed), plus `extra` new entries.
        func fork(at index: Int, extra: Int) -> [[UInt8]] {
            var forked = entries
            forked[index] = Array(String(decoding: forked[index], as: UTF8.self).replacingOccurrences(of: "\"v\":2", with: "\"v\":2 ").utf8)
            return forked + (0..<extra).map { Array("{\"forged\":\($0)}".utf8) }
        }

        func checkpoint(of history: [[UInt8]]) throws -> String {
            let root = MerkleProofs.root(ofLeafHashes: history.map { TreeHash.leaf($0) }[...])
            return try Checkpoint(origin: signer.verifier.name, size: UInt64(history.count), root: root).signed(by: signer).serialized
        }

        func proof(of history: [[UInt8]], from old: Int) -> [[UInt8]] {
            let leaves = history.map { TreeHash.leaf($0) }
            return MerkleProofs.consistency(oldSize: UInt64(old), newSize: UInt64(history.count)) { MerkleProofs.root(ofLeafHashes: leaves[Int($0)..<Int($1)]) }
        }
    }

    @Test func aForkBelowWhatTheWitnessCosignedIsRefusedAndReportedWithBothCheckpoints() throws {
        let dir = try TemporaryDirectory("agora-witness-fork")
        defer { dir.remove() }
        let log = AgoraCLI(stateDirectory: dir.file("gw1")), witness = AgoraCLI(stateDirectory: dir.file("gw2"))
        let logKey = try log.ok(["init", "--domain", "gw1.example"]).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try witness.ok(["init", "--domain", "gw2.example"])
        let witnessKey = try witness.ok(["witness", "key"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try log.addAccount("buyer@gw1.example", role: "consumer", password: "buyer-pass-1")
        for amount in [5, 6, 7] { _ = try log.ok(["credit", "mint", "buyer@gw1.example", String(amount)]) }

        let witnessServe = try withFreePorts(3) { port in
            try startServe(stateDirectory: dir.file("gw2"), log: dir.file("gw2.log"), environment: [
                "AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)", "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1",
                "AGORA_HTTP_PORT": "\(port + 2)", "AGORA_WITNESS_LOGS": logKey,
            ])
        }
        defer { stopHard(witnessServe) }
        let witnessPort = try #require(fileText(dir.file("gw2.log")).firstMatch(of: /http\.port=(\d+)/).map { String($0.1) })
        let logServe = try withFreePorts(3) { port in
            try startServe(stateDirectory: dir.file("gw1"), log: dir.file("gw1.log"), environment: [
                "AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)", "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1",
                "AGORA_HTTP_PORT": "\(port + 2)", "AGORA_WITNESS_PEERS": "http://127.0.0.1:\(witnessPort) \(witnessKey)",
            ])
        }
        func cosigned() throws -> Int? {
            let status = try JSONSerialization.jsonObject(with: Data(try httpGet("http://127.0.0.1:\(witnessPort)/status.json").body.utf8)) as? [String: Any]
            return ((status?["witness"] as? [String: Any])?["logs"] as? [String: Any])?["gw1.example/agora"] as? Int
        }
        let size = Int(try log.ok(["ledger", "checkpoint"]).split(separator: "\n")[1])!
        try waitUntil("the witness has cosigned gw1's \(size) entries", timeout: 30) { (try? cosigned()) == size }
        // gw1 shows its witness's progress: in /metrics, and in agora status.
        let logPort = try #require(fileText(dir.file("gw1.log")).firstMatch(of: /http\.port=(\d+)/).map { String($0.1) })
        let metricsLine = "agora_witness_peer_cosigned_size{witness=\"gw2.example/witness\"} \(size).0"
        try waitUntil("gw1's /metrics shows the cosigned size", timeout: 30, details: {
            (try? httpGet("http://127.0.0.1:\(logPort)/metrics").body.split(separator: "\n").filter { $0.contains("witness") }.joined(separator: "\n")) ?? ""
        }) { (try? httpGet("http://127.0.0.1:\(logPort)/metrics").body.contains(metricsLine)) == true }
        #expect(try httpGet("http://127.0.0.1:\(logPort)/metrics").body.contains("agora_ledger_witnessed_size \(size).0"))
        let status = try log.run(["status"], environment: ["AGORA_HTTP_PORT": logPort]).stdout
        #expect(status.contains("witnessed up to \(size) entries (1 of 1 witnesses required)") && status.contains("gw2.example/witness (http://127.0.0.1:\(witnessPort)): cosigned \(size)"), "\(status)")
        stopHard(logServe)

        // The forger alters entry 2 (a mint), below the cosigned size.
        let forger = try Forger(copyOf: dir.file("gw1"), origin: "gw1.example/agora", entries: size, cli: log)
        func submit(_ history: [[UInt8]], old: Int) throws -> Int {
            let body = AddCheckpointRequest(oldSize: UInt64(old), proof: old == history.count ? [] : forger.proof(of: history, from: old),
                                            checkpoint: try forger.checkpoint(of: history)).body
            try Data(body).write(to: URL(fileURLWithPath: dir.file("forged-request")))
            return Int(try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@" + dir.file("forged-request"),
                                                          "http://127.0.0.1:\(witnessPort)/add-checkpoint"]).stdout) ?? 0
        }
        let sameSize = forger.fork(at: 2, extra: 0)
        #expect(try submit(sameSize, old: size) == 409, "a fork of the cosigned size")
        let grown = forger.fork(at: 2, extra: 3)
        #expect(try submit(grown, old: size) == 422, "a fork grown past the cosigned size, with its own consistency proof")
        #expect(try cosigned() == size, "the witness recorded a forged checkpoint")
        #expect(fileText(dir.file("gw2.log")).contains("refused a checkpoint that does not extend what was cosigned"))
        // The honest history grown the same way, with a proof made the same way, is accepted:
        // the refusals were about the fork, not about the forger's proofs.
        let honest = forger.entries + (0..<3).map { Array("{\"next\":\($0)}".utf8) }
        #expect(try submit(honest, old: size) == 200)
        #expect(try cosigned() == size + 3)

        // The forged checkpoint held against the real store: the fork, with both checkpoints.
        try forger.checkpoint(of: sameSize).write(toFile: dir.file("forged-checkpoint"), atomically: true, encoding: .utf8)
        let report = try log.run(["ledger", "verify", "--against", dir.file("forged-checkpoint")])
        #expect(report.status == 1 && report.stdout.hasPrefix("FORKED: at size \(size)"), "\(report)")
        #expect(report.stdout.contains(try forger.checkpoint(of: sameSize)) && report.stdout.contains("# this log's own checkpoint:"))
    }
}
