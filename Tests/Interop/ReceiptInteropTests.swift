import AgoraTestSupport
import Foundation
import Testing

/// An independent verifier outside Swift: `verify_receipt.py` checks a receipt printed by
/// the CLI with Python's hashlib and the `cryptography` package (RFC 9162 inclusion and a
/// C2SP signed-note Ed25519 signature), and rejects a tampered one.
@Suite struct ReceiptInteropTests {
    static let python = "/usr/bin/python3"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("verify_receipt.py").path

    func agora(_ arguments: [String], _ dir: TemporaryDirectory) throws -> String {
        try AgoraCLI(stateDirectory: dir.file("state")).ok(arguments)
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    @Test func pythonVerifiesEveryReceiptTheCLIPrintsAndRejectsATamperedOne() throws {
        let dir = try TemporaryDirectory("agora-interop")
        defer { dir.remove() }
        let logKey = try agora(["init", "--domain", "gw1.example"], dir).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try agora(["user", "add", "alice@gw1.example", "--role", "owner"], dir)
        _ = try agora(["user", "add", "bob@gw1.example", "--role", "consumer"], dir)
        _ = try agora(["credit", "mint", "bob@gw1.example", "500"], dir)
        _ = try agora(["sensor", "add", "air-7", "--owner", "alice@gw1.example", "--kind", "pm25", "--price", "3"], dir)
        for hour in 10..<14 {
            _ = try agora(["purchase", "--buyer", "bob@gw1.example", "--sensor", "air-7",
                           "--from", "2026-11-22T\(hour):00:00Z", "--to", "2026-11-22T\(hour + 1):00:00Z"], dir)
        }
        for index in 0..<9 {
            let path = dir.file("receipt-\(index).json")
            try agora(["ledger", "receipt", String(index)], dir).write(toFile: path, atomically: true, encoding: .utf8)
            let result = try runProcess(Self.python, [Self.script, path, logKey])
            #expect(result.status == 0, "receipt \(index): \(result.stdout) \(result.stderr)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("ok gw1.example/agora entry \(index) of 9"))
            #expect(result.stdout.hasSuffix(" v2\n"), "new entries are salted (version 2): \(result.stdout)")
        }
        // Change the purchase amount inside a receipt: Python must refuse it.
        var receipt = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("receipt-8.json")))) as! [String: Any]
        let entry = String(decoding: Data(base64Encoded: receipt["entry"] as! String)!, as: UTF8.self)
        receipt["entry"] = Data(entry.replacingOccurrences(of: "\"amount\":3", with: "\"amount\":0").utf8).base64EncodedString()
        let tampered = dir.file("tampered.json")
        try JSONSerialization.data(withJSONObject: receipt).write(to: URL(fileURLWithPath: tampered))
        let refused = try runProcess(Self.python, [Self.script, tampered, logKey])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("FAIL"))
    }

    /// Receipts of a store written before salts (version-1 entries; the fuzz corpus keeps
    /// some, signed by its own log key) still verify with the independent verifier.
    @Test func pythonStillVerifiesVersionOneReceipts() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Corpus/receipt")
        let logKey = "fuzz.example/agora+827cb3bf+AV++3pAWng2c8h2ukPTx9ux1TYq2QshQdvXPTQFjiiM4"
        for name in ["entry-0-of-7.json", "entry-3-of-7.json", "entry-5-of-7.json", "entry-6-of-7.json"] {
            let result = try runProcess(Self.python, [Self.script, corpus.appendingPathComponent(name).path, logKey])
            #expect(result.status == 0, "\(name): \(result.stdout) \(result.stderr)")
            #expect(result.stdout.hasSuffix(" v1\n"), "\(name): \(result.stdout)")
        }
    }

    /// A real store written before salts (`stores/v1`, made by the binary of 327dfe6): today's
    /// binary audits and replays it, appends version-2 entries and salted readings to it,
    /// audits and replays the mix, and the Python verifier accepts receipts and reading
    /// proofs of both formats.
    @Test func aStoreWrittenBeforeSaltsStillVerifiesReplaysAndTakesSaltedEntries() throws {
        let dir = try TemporaryDirectory("agora-v1-store")
        defer { dir.remove() }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("stores/v1")
        let state = dir.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in ["agora.mdb", "agora.kek"] {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(name).path, toPath: state + "/" + name)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: state + "/" + name)
        }
        let cli = AgoraCLI(stateDirectory: state)
        let logKey = try cli.logKey()
        #expect(logKey == "gw1.example/agora+895f188e+ASf4VPuJ9y7O73Pftf4yWOEtkmHuZbFg7tDr72QBEo7d")
        #expect(try cli.ok(["ledger", "verify", "--replay"]).contains("replay of 8 entries"))

        // New entries on the old store: a mint, a new batch of readings; the old batch again is
        // recognised as stored although its records carry no salt.
        _ = try cli.ok(["credit", "mint", "dave@gw1.example", "7", "--memo", "after"])
        let oldPack = fixture.appendingPathComponent("pack.json").path
        #expect(try cli.ok(["readings", "ingest", "--sensor", "air-7", oldPack]).contains("stored before"))
        let newPack = dir.file("new.json")
        try #"[{"bn":"air-7:","bt":1795334405,"n":"pm25","t":0,"v":15},{"n":"pm25","t":1,"v":16}]"#.write(toFile: newPack, atomically: true, encoding: .utf8)
        #expect(try cli.ok(["readings", "ingest", "--sensor", "air-7", newPack]).contains("stored 2 readings"))
        #expect(try cli.ok(["ledger", "verify", "--replay"]).contains("replay of 10 entries"))
        #expect(try cli.ok(["credit", "balance", "dave@gw1.example"]).trimmingCharacters(in: .whitespacesAndNewlines) == "7")

        for index in 0..<10 {
            let path = dir.file("receipt-\(index).json")
            try cli.ok(["ledger", "receipt", String(index)]).write(toFile: path, atomically: true, encoding: .utf8)
            let result = try runProcess(Self.python, [Self.script, path, logKey])
            #expect(result.status == 0, "receipt \(index): \(result.stdout) \(result.stderr)")
            #expect(result.stdout.hasSuffix(index < 8 ? " v1\n" : " v2\n"), "receipt \(index): \(result.stdout)")
        }
        // The export holds the stored records as hashed: the old five without a salt, the new two with one.
        let exported = try JSONSerialization.jsonObject(with: Data(try cli.ok(["readings", "export", "--sensor", "air-7", "--format", "json"]).utf8)) as! [[String: Any]]
        #expect(exported.map { $0["salt"] != nil } == Array(repeating: false, count: 5) + [true, true])
        for (time, salted) in [("2026-11-22T08:00:02Z", false), ("2026-11-22T08:00:06Z", true)] {
            let path = dir.file("proof-\(salted).json")
            try cli.ok(["readings", "prove", "--sensor", "air-7", "--time", time]).write(toFile: path, atomically: true, encoding: .utf8)
            let result = try runProcess(Self.python, [Self.script, path, logKey])
            #expect(result.status == 0, "reading at \(time): \(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains(#""salt":""#) == salted, "\(result.stdout)")
        }
    }

    /// The verifier's own format rule: version 2 needs a salt of at least 128 bits in
    /// lower-case hex, version 1 has none, other versions are unknown.
    @Test(arguments: [
        (#"{"salt":"00112233445566778899aabbccddeeff","type":"credit.mint","v":2}"#, true),
        (#"{"type":"credit.mint","v":1}"#, true),
        (#"{"type":"credit.mint","v":2}"#, false),
        (#"{"salt":"00112233445566778899aabbccddee","type":"credit.mint","v":2}"#, false),
        (#"{"salt":"00112233445566778899AABBCCDDEEFF","type":"credit.mint","v":2}"#, false),
        (#"{"salt":"00112233445566778899aabbccddeeff","type":"credit.mint","v":1}"#, false),
        (#"{"type":"credit.mint","v":3}"#, false),
    ])
    func pythonChecksTheEntryFormatOfEachVersion(_ entry: String, _ accepted: Bool) throws {
        let directory = URL(fileURLWithPath: Self.script).deletingLastPathComponent().path
        let program = "import sys; sys.path.insert(0, sys.argv[1]); import verify_receipt as vr; vr.check_entry_format(sys.argv[2].encode()); print('ok')"
        let result = try runProcess(Self.python, ["-c", program, directory, entry])
        #expect((result.status == 0) == accepted, "\(entry): \(result.stdout) \(result.stderr)")
    }
}

/// `agora readings prove` output checked by the same independent Python verifier.
@Suite struct ReadingProofInteropTests {
    @Test func pythonVerifiesAReadingProofAndRejectsAnAlteredReading() throws {
        let dir = try TemporaryDirectory("agora-reading-interop")
        defer { dir.remove() }
        func agora(_ arguments: [String]) throws -> String { try AgoraCLI(stateDirectory: dir.file("state")).ok(arguments) }
        let logKey = try agora(["init", "--domain", "gw1.example"]).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try agora(["user", "add", "o@gw1.example", "--role", "owner"])
        _ = try agora(["sensor", "add", "air-7", "--owner", "o@gw1.example", "--kind", "pm25", "--price", "1"])
        let base = Int(Date().timeIntervalSince1970) - 3600
        let pack = "[" + (0..<25).map { #"{"bn":"air-7:","bt":\#(base),"n":"pm25","t":\#(Double($0) * 0.125),"v":\#(10 + $0)}"# }.joined(separator: ",") + "]"
        let packPath = dir.file("pack.json")
        try pack.write(toFile: packPath, atomically: true, encoding: .utf8)
        _ = try agora(["readings", "ingest", "--sensor", "air-7", packPath])
        let exported = try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", "air-7", "--format", "json"]).utf8)) as! [[String: Any]]
        #expect(exported.count == 25)
        #expect(exported.map { $0["t"] as! Int } == (0..<25).map { base * 1_000_000_000 + $0 * 125_000_000 })
        #expect(exported.map { $0["v"] as! Double } == (0..<25).map { Double(10 + $0) })

        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(base))).replacingOccurrences(of: "Z", with: ".875Z")
        let proofPath = dir.file("proof.json")
        try agora(["readings", "prove", "--sensor", "air-7", "--time", time]).write(toFile: proofPath, atomically: true, encoding: .utf8)
        let verified = try runProcess(ReceiptInteropTests.python, [ReceiptInteropTests.script, proofPath, logKey])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(verified.stdout.contains(#""v":17.0"#))
        #expect(verified.stdout.contains(#""salt":""#), "the record carries its salt: \(verified.stdout)")

        var proof = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: proofPath))) as! [String: Any]
        let record = String(decoding: Data(base64Encoded: proof["record"] as! String)!, as: UTF8.self)
        proof["record"] = Data(record.replacingOccurrences(of: "17.0", with: "71.0").utf8).base64EncodedString()
        let alteredPath = dir.file("altered.json")
        try JSONSerialization.data(withJSONObject: proof).write(to: URL(fileURLWithPath: alteredPath))
        let refused = try runProcess(ReceiptInteropTests.python, [ReceiptInteropTests.script, alteredPath, logKey])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("not in the committed batch"))
    }
}
