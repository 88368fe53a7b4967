import AgoraStore
import AgoraTestSupport
import Foundation
import Testing

/// The `agora` executable as an operator uses it: exit codes, one-line errors, and a
/// store left unchanged by every refused command.
@Suite(.serialized) struct CLITests {
    final class Gateway {
        let dir: TemporaryDirectory
        let logKey: String
        var state: [String] { ["--state-dir", dir.file("state")] }

        init() throws {
            dir = try TemporaryDirectory("agora-cli")
            let result = try runProcess(agoraExecutable, ["init", "--domain", "gw1.example", "--state-dir", dir.file("state")])
            guard result.status == 0 else { throw CLIFailure(result.stderr) }
            logKey = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        deinit { dir.remove() }

        @discardableResult
        func run(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
            try runProcess(agoraExecutable, arguments + state)
        }

        func ok(_ arguments: String...) throws -> String {
            let result = try runProcess(agoraExecutable, arguments + state)
            guard result.status == 0 else { throw CLIFailure("\(arguments): \(result.stderr)") }
            return result.stdout
        }

        var storeBytes: Data { get throws { try Data(contentsOf: URL(fileURLWithPath: dir.file("state/agora.mdb"))) } }
    }

    struct CLIFailure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    func populated() throws -> Gateway {
        let g = try Gateway()
        _ = try g.ok("user", "add", "alice@gw1.example", "--role", "owner")
        _ = try g.ok("user", "add", "bob@gw1.example", "--role", "consumer")
        _ = try g.ok("credit", "mint", "bob@gw1.example", "100")
        _ = try g.ok("sensor", "add", "temp-1", "--owner", "alice@gw1.example", "--kind", "temperature", "--price", "10")
        return g
    }

    @Test func initPrintsTheVerifierKeyAndRefusesToRunTwice() throws {
        let g = try Gateway()
        #expect(g.logKey.hasPrefix("gw1.example/agora+"))
        let again = try g.run("init", "--domain", "gw1.example")
        #expect(again.status == 1)
        #expect(again.stderr.contains("refusing"))
        let attributes = try FileManager.default.attributesOfItem(atPath: g.dir.file("state/agora.kek"))
        #expect(attributes[.posixPermissions] as? Int == 0o600)
    }

    @Test(arguments: [
        ["credit", "mint", "bob@@gw1.example", "5"],
        ["credit", "mint", "bob@gw1.example", "-5"],
        ["credit", "mint", "bob@gw1.example", "99999999999999999999"],
        ["credit", "mint", "bob@gw1.example", "1000000000000001"],
        ["credit", "mint", "nobody@gw1.example", "5"],
        ["purchase", "--buyer", "bob@gw1.example", "--sensor", "temp-1", "--from", "2026-11-22T12:00:00Z", "--to", "2026-11-22T10:00:00Z"],
        ["purchase", "--buyer", "bob@gw1.example", "--sensor", "nope", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T11:00:00Z"],
        ["purchase", "--buyer", "bob@gw1.example", "--sensor", "temp-1", "--from", "noon", "--to", "2026-11-22T11:00:00Z"],
        ["purchase", "--buyer", "bob@gw1.example", "--sensor", "temp-1", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T11:00:00Z"],
        ["sensor", "freeze", "nope", "--reason", "x"],
        ["user", "add", "alice@gw1.example", "--role", "owner"],
        ["user", "add", "eve@gw1.example", "--role", "king"],
    ])
    func badInputIsAOneLineErrorWithExit1AndChangesNothing(_ arguments: [String]) throws {
        let g = try populated()
        let before = try g.storeBytes
        let result = try runProcess(agoraExecutable, arguments + g.state)
        #expect(result.status == 1, "\(arguments): \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("agora: error: ") == true)
        #expect(result.stdout.isEmpty)
        #expect(try g.storeBytes == before)
    }

    @Test func usageErrorsExitWith2() throws {
        let g = try Gateway()
        #expect(try g.run("credit", "mint").status == 2)
        #expect(try g.run("purchase", "--buyer", "bob@gw1.example").status == 2)
        #expect(try runProcess(agoraExecutable, ["no-such-command"]).status == 2)
        #expect(try runProcess(agoraExecutable, ["ledger", "--help"]).status == 0)
    }

    @Test func receiptFromTheCLIVerifiesAndBadReceiptsOrKeysAreRefused() throws {
        let g = try populated()
        let purchase = try g.ok("purchase", "--buyer", "bob@gw1.example", "--sensor", "temp-1",
                                "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T11:00:00Z", "--request-id", "r1", "--json")
        let object = try JSONSerialization.jsonObject(with: Data(purchase.utf8)) as! [String: Any]
        #expect(object["amount"] as? Int == 10)
        let index = object["ledgerIndex"] as! Int
        let receiptPath = g.dir.file("receipt.json")
        try g.ok("ledger", "receipt", String(index)).write(toFile: receiptPath, atomically: true, encoding: .utf8)

        let verified = try runProcess(agoraExecutable, ["verify-receipt", receiptPath, "--log-key", g.logKey])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("\"type\":\"purchase\""))

        let other = try Gateway()
        let wrongKey = try runProcess(agoraExecutable, ["verify-receipt", receiptPath, "--log-key", other.logKey])
        #expect(wrongKey.status == 1)
        #expect(wrongKey.stderr.split(separator: "\n").count == 1)

        let full = try Data(contentsOf: URL(fileURLWithPath: receiptPath))
        let truncatedPath = g.dir.file("truncated.json")
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: truncatedPath))
        let truncated = try runProcess(agoraExecutable, ["verify-receipt", truncatedPath, "--log-key", g.logKey])
        #expect(truncated.status == 1)
        #expect(truncated.stderr.hasPrefix("agora: error: "))
        #expect(truncated.stderr.split(separator: "\n").count == 1)
    }

    @Test func verifyWithReplayPassesAndNamesATamperedEntry() throws {
        let g = try populated()
        _ = try g.ok("purchase", "--buyer", "bob@gw1.example", "--sensor", "temp-1",
                     "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T11:00:00Z")
        let verified = try g.ok("ledger", "verify", "--replay")
        #expect(verified.contains("ok: 6 entries"))
        #expect(verified.contains("byte for byte"))

        // Flip one byte of entry 3's stored JSON ("amount":100 → "amount":900) in the file itself:
        // in every copy of it, since LMDB's copy-on-write leaves stale copies in free pages and
        // which copy comes first depends on the file's layout (the number of tables, for one).
        let path = g.dir.file("state/agora.mdb")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let needle = Data("\"amount\":100,".utf8)
        var searchFrom = bytes.startIndex
        var flipped = 0
        while let range = bytes.range(of: needle, in: searchFrom..<bytes.endIndex) {
            bytes[range.lowerBound + 9] = UInt8(ascii: "9")
            searchFrom = range.upperBound
            flipped += 1
        }
        try #require(flipped > 0)
        try bytes.write(to: URL(fileURLWithPath: path))
        let result = try g.run("ledger", "verify")
        #expect(result.status == 1)
        #expect(result.stderr.contains("entry 3"), "\(result.stderr)")
    }

    @Test func verifyWithAPinnedLogKeyRefusesAnotherLogsKey() throws {
        let g = try populated()
        #expect(try g.ok("ledger", "verify", "--log-key", g.logKey).contains("(the trusted key)"))
        let other = try Gateway()
        let result = try g.run("ledger", "verify", "--log-key", other.logKey)
        #expect(result.status == 1)
        #expect(result.stderr.contains("not the trusted"), "\(result.stderr)")
    }

    @Test func aSealedLogKeyOtherThanGenesisNamesIsRefusedBeforeSigning() async throws {
        let a = try Gateway()
        let b = try TemporaryDirectory("agora-cli-b")
        defer { b.remove() }
        // B shares A's key-encryption key, so B's sealed log key opens under A's KEK.
        let init2 = try runProcess(agoraExecutable, ["init", "--domain", "gw1.example", "--state-dir", b.file("state"), "--kek-file", a.dir.file("state/agora.kek")])
        #expect(init2.status == 0, "\(init2.stderr)")
        let foreign: [UInt8] = try {
            let store = try Store(path: b.file("state/agora.mdb"), logger: testLogger())
            defer { store.close() }
            return try store.read { try $0.get(store.tables.keys, StoreKey.text("ledger.log"))! }
        }()
        let store = try Store(path: a.dir.file("state/agora.mdb"), logger: testLogger())
        try await store.write { txn in try txn.put(store.tables.keys, StoreKey.text("ledger.log"), foreign) }
        store.close()
        let result = try a.run("user", "add", "x@gw1.example", "--role", "consumer")
        #expect(result.status == 1)
        #expect(result.stderr.contains("does not match the key named in the genesis entry"), "\(result.stderr)")
    }

    @Test func anOpenStoreFollowsAMapGrownByAnotherProcess() async throws {
        let dir = try TemporaryDirectory("agora-cli-resize")
        defer { dir.remove() }
        let small = ["AGORA_STORE_MAP_SIZE": "4194304", "AGORA_STORE_MAX_MAP_SIZE": "4194304"]
        #expect(try runProcess(agoraExecutable, ["init", "--domain", "gw1.example", "--state-dir", dir.file("state")], environment: small).status == 0)
        let store = try Store(path: dir.file("state/agora.mdb"), options: .init(mapSize: 4 << 20, maxMapSize: 4 << 20), logger: testLogger())
        defer { store.close() }
        #expect(try store.read { try $0.count(store.tables.ledgerEntries) } == 1)
        // Another process (LMDB's own mdb_load) sets a 64 MiB map and writes 8 MB: past our 4 MiB map.
        var dump = "VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=67108864\nHEADER=END\n"
        let value = String(repeating: "ab", count: 4000)
        for i in 0..<2000 { dump += " \(String(format: "%016x", i))\n \(value)\n" }
        dump += "DATA=END\n"
        let dumpPath = dir.file("readings.dump")
        try dump.write(toFile: dumpPath, atomically: true, encoding: .utf8)
        let load = try runProcess("/usr/bin/mdb_load", ["-n", "-s", "readings", "-f", dumpPath, dir.file("state/agora.mdb")])
        #expect(load.status == 0, "\(load.stderr)")
        // Our process, still on its 4 MiB map, adopts the new size instead of failing.
        #expect(try store.read { try $0.count(store.tables.readings) } == 2000)
        #expect(store.environment.currentMapSize == 64 << 20)
        try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("after-resize"), [1]) }
        #expect(try store.read { try $0.get(store.tables.meta, StoreKey.text("after-resize")) } == [1])
    }

    @Test func statusAndListsReportWhatWasDone() throws {
        let g = try populated()
        let status = try JSONSerialization.jsonObject(with: Data(try g.ok("status", "--json").utf8)) as! [String: Any]
        #expect(status["accounts"] as? Int == 2)
        #expect(status["totalMinted"] as? Int == 100)
        #expect(status["sumOfBalances"] as? Int == 100)
        #expect(status["logKey"] as? String == g.logKey)
        let users = try JSONSerialization.jsonObject(with: Data(try g.ok("user", "list", "--json").utf8)) as! [[String: Any]]
        #expect(users.map { $0["jid"] as? String } == ["alice@gw1.example", "bob@gw1.example"])
        #expect(try g.ok("credit", "balance", "bob@gw1.example").trimmingCharacters(in: .whitespacesAndNewlines) == "100")
        let shown = try JSONSerialization.jsonObject(with: Data(try g.ok("ledger", "show", "--json").utf8)) as! [[String: Any]]
        #expect(shown.count == 5)
        #expect((shown[0]["entry"] as? [String: Any])?["type"] as? String == "genesis")
        let consistency = try JSONSerialization.jsonObject(with: Data(try g.ok("ledger", "consistency", "2", "5").utf8)) as! [String: Any]
        #expect((consistency["proof"] as? [String])?.isEmpty == false)
    }
}
