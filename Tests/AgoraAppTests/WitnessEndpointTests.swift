import AgoraLedger
import AgoraTestSupport
import Foundation
import Testing

/// `POST /add-checkpoint` against real checkpoints of another gateway's log, sent by curl:
/// each bad request gets the spec's status, is counted, and changes nothing; a good one is
/// cosigned with the key `agora witness key` prints.
@Suite struct WitnessEndpointTests {
    @Test func badSubmissionsGetTheSpecsStatusAreCountedAndChangeNothingAndAGoodOneIsCosigned() throws {
        let dir = try TemporaryDirectory("agora-witness-endpoint")
        defer { dir.remove() }
        let witness = AgoraCLI(stateDirectory: dir.file("witness"))
        let log = AgoraCLI(stateDirectory: dir.file("log"))
        let stranger = AgoraCLI(stateDirectory: dir.file("stranger"))
        _ = try witness.ok(["init", "--domain", "w.example"])
        let logKey = try log.ok(["init", "--domain", "gw1.example"]).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try stranger.ok(["init", "--domain", "gw9.example"])
        let witnessKey = try CosignerVerifier(parsing: try witness.ok(["witness", "key"]))
        let checkpoint = try log.ok(["ledger", "checkpoint"])
        // A C2SP log whose origin is not its key's name (as the Go checksum database's is not).
        let sofa = try NoteSigner(name: "sofa-key", rawPrivateKey: Array(repeating: 7, count: 32))
        let sofaCheckpoint = try SignedNote.sign("example.com/behind-the-sofa\n3\n\(Data(repeating: 1, count: 32).base64EncodedString())\n", with: sofa).serialized

        let serve = try withFreePorts(3) { port in
            try startServe(stateDirectory: dir.file("witness"), log: dir.file("serve.log"), environment: [
                "AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)", "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1",
                "AGORA_HTTP_PORT": "\(port + 2)", "AGORA_WITNESS_LOGS": "\(logKey), example.com/behind-the-sofa \(sofa.verifier)",
            ])
        }
        defer { stopHard(serve) }
        let port = try #require(fileText(dir.file("serve.log")).firstMatch(of: /http\.port=(\d+)/).map { String($0.1) })
        let url = "http://127.0.0.1:\(port)/add-checkpoint"
        func post(_ body: String) throws -> (code: Int, body: String, contentType: String) {
            let file = dir.file("body-\(UUID().uuidString)")
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runProcess("/usr/bin/curl", ["-s", "--max-time", "10", "--data-binary", "@\(file)", "-o", "/dev/stdout",
                                                          "-w", "\n%{http_code} %{content_type}", url])
            var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let last = lines.popLast().map(String.init) ?? ""
            return (Int(last.prefix { $0 != " " }) ?? 0, lines.joined(separator: "\n"), String(last.drop { $0 != " " }.dropFirst()))
        }
        func cosignedLogs() throws -> [String: Any] {
            let status = try JSONSerialization.jsonObject(with: Data(try httpGet("http://127.0.0.1:\(port)/status.json").body.utf8)) as? [String: Any]
            return ((status?["witness"] as? [String: Any])?["logs"] as? [String: Any]) ?? [:]
        }

        #expect(try post("hello\n").code == 400, "not a request")
        #expect(try post("old 0\n\n" + (try stranger.ok(["ledger", "checkpoint"]))).code == 404, "a log it does not witness")
        let forged = checkpoint.replacingOccurrences(of: "\n1\n", with: "\n2\n")
        #expect(try post("old 0\n\n" + forged).code == 403, "a checkpoint whose signature does not verify")
        #expect(try post("old 7\n\n" + checkpoint).code == 400, "old size beyond the checkpoint's")
        #expect(try post("old 0\n" + String(repeating: "A", count: 70_000) + "\n\n" + checkpoint).code == 413, "an oversized body")
        #expect(try cosignedLogs().isEmpty, "a refusal recorded something")

        let accepted = try post("old 0\n\n" + checkpoint)
        #expect(accepted.code == 200, "\(accepted)")
        let signatures = try SignedNote.Signature.parseLines(accepted.body)
        let text = try SignedNote(parsing: checkpoint).text
        let time = try #require(witnessKey.cosignatureTime(of: text, among: signatures), "the answer is not a cosignature by \(witnessKey)")
        #expect(abs(Double(time) - Date().timeIntervalSince1970) < 60)
        #expect(try cosignedLogs()["gw1.example/agora"] as? Int == 1)

        // The witness knows size 1 now: another old size is a conflict, with the size it knows.
        let conflict = try post("old 0\n\n" + checkpoint)
        #expect(conflict.code == 409 && conflict.body == "1\n" && conflict.contentType.hasPrefix("text/x.tlog.size"), "\(conflict)")
        let metrics = try httpGet("http://127.0.0.1:\(port)/metrics").body
        for outcome in ["malformed", "unknown_log", "bad_signature", "old_size_too_large", "cosigned", "conflict"] {
            #expect(metrics.contains("agora_witness_requests_total{outcome=\"\(outcome)\"} 1"), "\(outcome) not counted once")
        }
        let other = try post("old 0\n\n" + sofaCheckpoint)
        #expect(other.code == 200, "a log configured as ORIGIN KEY: \(other)")
        #expect(try cosignedLogs()["example.com/behind-the-sofa"] as? Int == 3)
    }

    @Test func aFloodIsAnswered429AndCountedWithoutRecordingAnything() throws {
        let dir = try TemporaryDirectory("agora-witness-flood")
        defer { dir.remove() }
        let witness = AgoraCLI(stateDirectory: dir.file("witness"))
        let log = AgoraCLI(stateDirectory: dir.file("log"))
        _ = try witness.ok(["init", "--domain", "w.example"])
        let logKey = try log.ok(["init", "--domain", "gw1.example"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let body = dir.file("flood")
        // Requests whose old size (5) is beyond the checkpoint's (1): each one the bucket lets
        // through is checked and refused with 400, so only the bucket decides between 400 and 429.
        try ("old 5\n\n" + (try log.ok(["ledger", "checkpoint"]))).write(toFile: body, atomically: true, encoding: .utf8)
        let serve = try withFreePorts(3) { port in
            try startServe(stateDirectory: dir.file("witness"), log: dir.file("serve.log"), environment: [
                "AGORA_XMPP_C2S_PORT": "\(port)", "AGORA_XMPP_TLS_PORT": "\(port + 1)", "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1",
                "AGORA_HTTP_PORT": "\(port + 2)", "AGORA_WITNESS_LOGS": logKey, "AGORA_WITNESS_MAX_REQUESTS_PER_SECOND": "1",
            ])
        }
        defer { stopHard(serve) }
        let port = try #require(fileText(dir.file("serve.log")).firstMatch(of: /http\.port=(\d+)/).map { String($0.1) })
        // 20 requests on one keep-alive connection, far faster than 1 a second (burst 2).
        let urls = Array(repeating: ["--data-binary", "@\(body)", "-o", "/dev/null", "-w", "%{http_code}\n", "http://127.0.0.1:\(port)/add-checkpoint"], count: 20)
        let codes = try runProcess("/usr/bin/curl", ["-s", "--max-time", "20"] + urls.joined(separator: ["--next"])).stdout.split(separator: "\n")
        let limited = codes.filter { $0 == "429" }.count, checked = codes.filter { $0 == "400" }.count
        #expect(codes.count == 20 && limited >= 15 && limited + checked == 20, "\(codes)")
        let metrics = try httpGet("http://127.0.0.1:\(port)/metrics").body
        #expect(metrics.contains("agora_witness_requests_total{outcome=\"rate_limited\"} \(limited)"), "\(metrics.split(separator: "\n").filter { $0.contains("witness") })")
        let status = try JSONSerialization.jsonObject(with: Data(try httpGet("http://127.0.0.1:\(port)/status.json").body.utf8)) as? [String: Any]
        #expect(((status?["witness"] as? [String: Any])?["logs"] as? [String: Any])?.isEmpty == true)
    }
}
