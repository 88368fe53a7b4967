import AgoraTestSupport
import Foundation
import Testing

/// `agora serve` under systemd's `Type=notify`, with systemd played by a Python script
/// that owns the notify socket: READY=1 once listening, WATCHDOG=1 at half WatchdogSec,
/// STOPPING=1 on SIGTERM and a clean exit.
struct SystemdNotifyTests {
    @Test func serveSaysReadyFeedsTheWatchdogAndSaysStopping() throws {
        let dir = try TemporaryDirectory("agora-notify")
        defer { dir.remove() }
        try AgoraCLI(stateDirectory: dir.file("state")).ok(["init", "--domain", "gw.test"])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("systemd/notify_check.py").path
        // The script runs serve itself: when serve could not bind (another process took a port), again on others.
        let result = try withFreePorts(2) { port in
            let result = try runProcess("/usr/bin/python3", [script, "200000", "--", agoraExecutable, "serve", "--state-dir", dir.file("state")],
                                        environment: ["AGORA_XMPP_C2S_PORT": String(port), "AGORA_XMPP_TLS_PORT": String(port + 1),
                                                      "AGORA_XMPP_BIND_ADDRESS": "127.0.0.1", "AGORA_HTTP_PORT": "0"])
            if result.status != 0, (result.stdout + result.stderr).lowercased().contains("in use") {
                throw PortTaken(description: "agora serve: \(result.stderr.suffix(500))")
            }
            return result
        }
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("stopping=True"))
    }
}
