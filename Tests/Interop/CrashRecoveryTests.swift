import AgoraTestSupport
import Foundation
import Testing

/// Issue 8, reliability: `agora serve` under real load (slixmpp buyers, mosquitto_pub through
/// a real Mosquitto) is killed without warning again and again — `kill -9`, and power cuts
/// modelled on a loop-mounted ext4 — and after each one nothing the clients were told is lost,
/// the ledger verifies and replays, and the credits add up. The scenario and its model are
/// described in `Tests/Reliability/crash.py`, which anyone can run on its own.
@Suite(.serialized) struct CrashRecoveryTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Reliability/crash.py").path

    /// Runs crash.py with `arguments`; returns its exit status, output, and the numbers of its summary line.
    func crash(_ arguments: [String]) throws -> (status: Int32, output: String, numbers: [String: Int]) {
        let result = try runProcess("/usr/bin/python3", [Self.script, "--agora", agoraExecutable] + arguments)
        var numbers: [String: Int] = [:]
        if let summary = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("crash ok ") || $0.hasPrefix("power-cut ok ") }) {
            print(summary)
            for field in summary.split(separator: " ") {
                let parts = field.split(separator: "=")
                if parts.count == 2, let value = Int(parts[1]) { numbers[String(parts[0])] = value }
            }
        }
        return (result.status, result.stdout + "\n" + result.stderr, numbers)
    }

    /// What both modes must show: every round happened, under real load, with answers cut off
    /// mid-flight and retried, and nothing acknowledged lost.
    func expectLoadedAndLossless(_ numbers: [String: Int], rounds: String, _ count: Int, _ output: String) {
        #expect(numbers[rounds] == count, "\(output.suffix(6000))")
        #expect(numbers["lost"] == 0, "\(output.suffix(6000))")
        #expect((numbers["purchases_acked"] ?? 0) >= 200, "too little purchase load to mean anything: \(numbers)")
        #expect((numbers["readings_committed"] ?? 0) >= 1000, "too few readings to mean anything: \(numbers)")
        #expect(numbers["readings_committed"] == numbers["readings_published"], "\(numbers)")
        #expect(numbers["duplicates"] == 0, "\(numbers)")
        // Issue 21: the owner watching live got every committed reading, each once.
        #expect(numbers["readings_watched"] == numbers["readings_committed"], "\(numbers)")
        #expect((numbers["purchases_in_doubt"] ?? 0) >= 1, "no crash cut off a purchase in flight: \(numbers)")
        #expect((numbers["retried"] ?? 0) >= (numbers["purchases_in_doubt"] ?? 0), "\(numbers)")
    }

    @Test func killNineTwentyTimesUnderLoadLosesNothingAcknowledged() throws {
        let run = try crash(["--kills", "20"])
        #expect(run.status == 0, "\(run.output.suffix(8000))")
        expectLoadedAndLossless(run.numbers, rounds: "kills", 20, run.output)

        // The checks are not blind: a store put back to a snapshot from partway through the
        // load (work the clients were told about, gone) must fail them.
        let rolledBack = try crash(["--kills", "1", "--inject-loss"])
        #expect(rolledBack.status == 1 && rolledBack.output.contains("LOST"), "\(rolledBack.output.suffix(4000))")
    }

    /// A restart can find the XMPP port taken (by whatever grabbed it while the gateway was
    /// down). `agora serve` must then fail with the reason, not hang without a word: it used
    /// to wait forever for listeners that would never be bound.
    @Test func aRestartThatFindsItsPortTakenFailsWithTheReasonInsteadOfHanging() throws {
        let dir = try TemporaryDirectory("agora-port-taken")
        defer { dir.remove() }
        let cli = AgoraCLI(stateDirectory: dir.file("state"))
        try cli.ok(["init", "--domain", "gw.test"])
        // Something else listens on the port: a Python socket, so the port stays taken while serve starts.
        let holder = try spawn("/usr/bin/python3", ["-c", """
            import socket, sys, time
            s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
            print(s.getsockname()[1], flush=True); time.sleep(120)
            """], log: dir.file("holder.log"))
        defer { stopHard(holder) }
        var port = ""
        try waitUntil("the holder has bound its port", timeout: 10, details: { fileText(dir.file("holder.log")) }) {
            port = fileText(dir.file("holder.log")).trimmingCharacters(in: .whitespacesAndNewlines)
            return Int(port) != nil
        }
        let serve = try spawn(agoraExecutable, ["serve", "--state-dir", dir.file("state")], log: dir.file("serve.log"), environment: [
            "AGORA_XMPP_C2S_PORT": port, "AGORA_XMPP_TLS_PORT": "0", "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1", "AGORA_HTTP_PORT": "0",
        ])
        defer { stopHard(serve) }
        _ = eventually(timeout: 30, interval: 0.1) { !serve.isRunning }
        let log = fileText(dir.file("serve.log"))
        #expect(!serve.isRunning, "agora serve still runs 30 s after its port \(port) was found taken: \(log)")
        if !serve.isRunning { #expect(serve.terminationStatus != 0, "\(log)") }
        #expect(log.lowercased().contains("in use"), "the reason is not in the log: \(log)")
        #expect(!log.contains("agora serve ready"), "it said it was ready: \(log)")
    }

    @Test func powerCutsOnALoopMountedExt4LoseNothingAcknowledged() throws {
        guard geteuid() == 0 else {
            Issue.record("the power-cut test needs root (losetup, mkfs.ext4, mount); CI runs as root — run `swift test` as root")
            return
        }
        let run = try crash(["--power-cut", "--cuts", "5"])
        #expect(run.status == 0, "\(run.output.suffix(8000))")
        expectLoadedAndLossless(run.numbers, rounds: "cuts", 5, run.output)
        // Each copy was a filesystem that had not been unmounted: ext4 replayed its journal.
        #expect(run.numbers["journal_replays"] == 5, "\(run.numbers)")

        // An older copy of the disk than the clients' acknowledgements must fail the checks.
        let stale = try crash(["--power-cut", "--cuts", "1", "--inject-loss"])
        #expect(stale.status == 1 && stale.output.contains("LOST"), "\(stale.output.suffix(4000))")
    }
}
