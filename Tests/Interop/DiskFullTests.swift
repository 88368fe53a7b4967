import AgoraTestSupport
import Foundation
import Testing

/// Issue 8, disk full: the store on a small tmpfs that fills up while a real Mosquitto
/// delivers readings. The gateway must say so once, keep serving reads, corrupt nothing,
/// hold what it was given, and carry on by itself when space returns.
///
/// Needs root (it mounts a tmpfs); CI runs as root, and the test fails rather than skips
/// without it.
@Suite(.serialized) struct DiskFullTests {
    @Test func aFullDiskRefusesWritesKeepsReadsAndIngestionResumesWhenSpaceReturns() throws {
        try #require(getuid() == 0, "this test mounts a tmpfs and needs root (CI runs as root)")
        let dir = try TemporaryDirectory("agora-diskfull")
        defer { dir.remove() }
        let stateDir = dir.file("state")
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let mounted = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", stateDir])
        try #require(mounted.status == 0, "mount: \(mounted.stderr)")
        defer { _ = try? runProcess("/bin/umount", ["-l", stateDir]) }

        let cli = AgoraCLI(stateDirectory: stateDir)
        func agora(_ arguments: [String]) throws -> String { try cli.ok(arguments) }
        _ = try agora(["init", "--domain", "gw1.example"])
        _ = try agora(["user", "add", "owner@gw1.example", "--role", "owner"])
        _ = try agora(["sensor", "add", "s1", "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"])
        let broker = dir.file("broker") // outside the tmpfs: only the store runs out of space
        let mosquitto = try Mosquitto(cli: cli, out: broker, log: dir.file("mosquitto.log"))
        defer { mosquitto.stop() }
        let port = mosquitto.port
        _ = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                "-keyout", dir.file("s1.key"), "-out", dir.file("s1.csr"), "-subj", "/CN=s1"])
        try agora(["ca", "sign", dir.file("s1.csr"), "--for", "sensor:s1"]).write(toFile: dir.file("s1.pem"), atomically: true, encoding: .utf8)
        let serve = try startServe(stateDirectory: stateDir, log: dir.file("serve.log"), environment: mqttOnlyEnvironment)
        defer { stopHard(serve) }

        let base = Int(Date().timeIntervalSince1970) - 3600
        func publish(_ range: Range<Int>) throws {
            // Packs of 10 readings with 200-character string values (the store grows fast),
            // one millisecond apart; the value starts with the reading's number.
            let padding = String(repeating: "x", count: 200)
            let timed = stride(from: range.lowerBound, to: range.upperBound, by: 10).map { first in
                "[" + (first..<min(first + 10, range.upperBound)).map {
                    #"{"n":"s","t":\#(Double(base) + Double($0) / 1000),"vs":"\#($0)-\#(padding)"}"#
                }.joined(separator: ",") + "]"
            }
            let file = dir.file("lines-\(range.lowerBound).txt")
            try (timed.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runProcess("/bin/sh", ["-c", "/usr/bin/mosquitto_pub -I client: -h localhost -p \(port) --cafile \(broker)/ca.pem --cert \(dir.file("s1.pem")) --key \(dir.file("s1.key")) -q 1 -t agora/sensors/s1/senml -l < \(file)"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        func exported() throws -> [String] {
            let rows = try JSONSerialization.jsonObject(with: Data(try agora(["readings", "export", "--sensor", "s1", "--format", "json"]).utf8)) as! [[String: Any]]
            return rows.map { $0["vs"] as? String ?? "" }
        }
        func log() -> String { fileText(dir.file("serve.log")) }

        // Readings published before the gateway has subscribed would reach nobody.
        try mosquitto.waitForGateway()
        try publish(0..<200)
        #expect(try eventually(timeout: 30) { try exported().count == 200 }, "\(log().suffix(2000))")

        // Fill the file system; what the store already holds stays readable.
        let fill = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(stateDir)/filler", "bs=64k"])
        #expect(fill.status != 0 && fill.stderr.contains("No space left"), "dd: \(fill.stderr)")
        try publish(200..<2200)
        #expect(eventually(timeout: 30) { log().contains("the disk holding the store is full") }, "no disk-full line: \(log().suffix(3000))")
        #expect(log().contains("readings are held and retried"), "\(log().suffix(3000))")
        let during = try exported()
        #expect(during.count >= 200 && during.count < 2200, "\(during.count)")
        let health = try agora(["status"]).split(separator: "\n").first { $0.hasPrefix("health") }
        #expect(health?.split(separator: " ").last == "ok", "\(String(describing: health))")
        _ = try agora(["ledger", "verify"])
        #expect(serve.isRunning)

        // Space returns: the held readings and those queued behind them arrive, exactly once.
        try FileManager.default.removeItem(atPath: "\(stateDir)/filler")
        let resumed = try eventually(timeout: 60) { try exported().count == 2200 }
        #expect(resumed, "stored \((try? exported().count) ?? -1) of 2200: \(log().suffix(3000))")
        let values = try exported().map { Int($0.split(separator: "-")[0]) ?? -1 }
        #expect(values == Array(0..<2200), "\(values.count) readings, first wrong at \(String(describing: zip(values, 0...).first { $0 != $1 }))")
        #expect(log().contains("disk space is back"), "\(log().suffix(3000))")

        kill(serve.processIdentifier, SIGTERM)
        #expect(eventually(timeout: 15) { !serve.isRunning }, "serve did not stop on SIGTERM")
        let summary = log()
        #expect(summary.contains("store.disk_full_episodes=1"), "\(summary.suffix(2000))")
        #expect(!summary.contains("store.disk_full_refusals=0"), "\(summary.suffix(2000))")
        #expect(summary.contains("ingest.stored=2200"), "\(summary.suffix(2000))")
        #expect(summary.contains("ingest.store_failed=0"), "\(summary.suffix(2000))")
        _ = try agora(["ledger", "verify", "--replay"])
    }
}
