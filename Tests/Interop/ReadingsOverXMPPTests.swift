import AgoraTestSupport
import Foundation
import Testing

/// `urn:agora:readings:1` against slixmpp clients (`xmpp/readings.py`), which check every
/// reading's proof with the independent Python verifier.
@Suite(.serialized) struct ReadingsOverXMPPTests {
    @Test func buyersReadProvenPagesOfWhatTheyBoughtAndNothingElse() throws {
        let gateway = try XMPPInteropTests.RunningGateway()
        defer { gateway.stop() }
        try gateway.cli.addAccount("owner@gw.test", role: "owner", password: "owner-secret-4444")
        _ = try gateway.cli.ok(["sensor", "add", "air-1", "--owner", "owner@gw.test", "--kind", "pm25", "--price", "1"])
        _ = try gateway.cli.ok(["credit", "mint", "alice@gw.test", "100", "--memo", "test"])
        // An hour of readings, one a second, value i/4, in four backfilled packs (four commits).
        let start = (Int(Date().timeIntervalSince1970) / 3600 - 3) * 3600
        for pack in 0..<4 {
            let records = (pack * 900..<(pack + 1) * 900).map { #"{"n":"pm25","t":\#($0),"v":\#(Double($0) / 4)}"# }
            let file = gateway.dir.file("pack\(pack).json")
            try (#"[{"bt":\#(start),"n":"pm25","t":\#(pack * 900),"v":\#(Double(pack * 900) / 4)},"#
                 + records.dropFirst().joined(separator: ",") + "]").write(toFile: file, atomically: true, encoding: .utf8)
            _ = try gateway.cli.ok(["readings", "ingest", "--sensor", "air-1", file])
        }
        // A second sensor with 600 readings of 1000-character strings (SenML's vs limit is
        // 1024 bytes): pages of them end early rather than outgrow the reply budget.
        _ = try gateway.cli.ok(["sensor", "add", "big-1", "--owner", "owner@gw.test", "--kind", "text", "--price", "1"])
        let big = String(repeating: "x", count: 1000)
        for pack in 0..<10 {
            let records = (pack * 60..<(pack + 1) * 60).map { #"{"n":"note","t":\#(start + $0),"vs":"\#(big)"}"# }
            let file = gateway.dir.file("big\(pack).json")
            try ("[" + records.joined(separator: ",") + "]").write(toFile: file, atomically: true, encoding: .utf8)
            _ = try gateway.cli.ok(["readings", "ingest", "--sensor", "big-1", file])
        }
        let logKey = try gateway.cli.logKey()

        let result = try runProcess("/usr/bin/python3", [
            XMPPInteropTests.scripts + "/readings.py", "--port", String(gateway.c2sPort), "--domain", XMPPInteropTests.domain,
            "--ca", gateway.ca, "--log-key", logKey, "--sensor", "air-1", "--start", String(start), "--count", "3600",
            "--buyer", "alice@gw.test", XMPPInteropTests.RunningGateway.passwords["alice"]!,
            "--outsider", "bob@gw.test", XMPPInteropTests.RunningGateway.passwords["bob"]!,
            "--owner", "owner@gw.test", "owner-secret-4444", "--big-sensor", "big-1", "--big-count", "600",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n--- serve.log ---\n\(gateway.log.suffix(4000))")
        #expect(result.stdout.contains("readings ok"), "\(result.stdout)")
    }
}
