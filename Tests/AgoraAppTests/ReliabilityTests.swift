import AgoraTestSupport
import Foundation
import Testing

/// Reliability R′ measured from the data itself (issue 23): three sensors publish through a
/// real Mosquitto at a declared one reading a second — one delivers everything, one drops
/// 30 % of its readings in three bursts, one reports a fifth of its values outside pm2.5's
/// physical range — and the gateway's measure ranks them so, seals the figures on the
/// ledger, and the sealed entry's receipt verifies with the independent Python verifier.
@Suite(.serialized) struct ReliabilityTests {
    static let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/verify_receipt.py").path

    @Test func aSteadyABurstyAndAFaultySensorAreMeasuredInThatOrderAndTheFiguresAreSealed() throws {
        let rig = try SensorBrokerRig("reliability", sensors: ["steady", "bursty", "faulty"], frequency: 1)
        let listed = try JSONSerialization.jsonObject(with: Data(try rig.agora(["sensor", "list", "--json"]).utf8)) as? [[String: Any]] ?? []
        var registered: [String: Int] = [:]
        for sensor in listed {
            guard let registration = sensor["registration"] as? [String: Any], let id = registration["sensor"] as? String,
                  let text = sensor["registered"] as? String, let date = ISO8601DateFormatter().date(from: text) else { continue }
            registered[id] = Int(date.timeIntervalSince1970)
        }
        try #require(registered.count == 3, "\(listed)")
        // One reading a second for the minute after each sensor's registration.
        let dropped = Set([10, 11, 12, 13, 14, 15, 30, 31, 32, 33, 34, 35, 50, 51, 52, 53, 54, 55])
        let plan: [String: [(time: Int, value: Double)]] = [
            "steady": (1...60).map { (registered["steady"]! + $0, 12.5) },
            "bursty": (1...60).filter { !dropped.contains($0) }.map { (registered["bursty"]! + $0, 12.5) },
            "faulty": (1...60).map { (registered["faulty"]! + $0, $0 % 5 == 0 ? 5_000 : 12.5) },
        ]
        for (id, readings) in plan { #expect(try rig.publish(id, readings: readings) == 0) }
        for (id, readings) in plan {
            #expect(eventually(timeout: 30) { (try? rig.stored(id)) == readings.count }, "\(id): \((try? rig.stored(id)) ?? -1) stored")
        }
        // Measure once the minute has passed for every sensor.
        let last = registered.values.max()! + 61
        while Int(Date().timeIntervalSince1970) <= last { Thread.sleep(forTimeInterval: 0.5) }

        let output = try rig.agora(["sensor", "reliability", "--seal", "--json"])
        let measured = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] ?? []
        var byID: [String: [String: Any]] = [:]
        for item in measured { byID[item["sensor"] as! String] = item }
        try #require(byID.count == 3, "\(output)")
        func hour(_ id: String) -> [Int] { ((byID[id]!["windows"] as! [[Int]])[0]) }
        func r(_ id: String) -> Int { byID[id]!["reliability"] as! Int }
        // [observed s, expected, delivered, gaps, longest gap, gap seconds, checked, out of range]
        #expect(hour("steady")[2] == 60 && hour("steady")[7] == 0)
        #expect(hour("bursty")[2] == 42)
        // Three bursts are three gaps of 7 s; the silence since the last reading (a few seconds
        // at most, the same for all) may add one at the end.
        #expect((3...4).contains(hour("bursty")[3]) && hour("bursty")[4] == 7, "\(hour("bursty"))")
        #expect(hour("steady")[3] <= 1 && hour("steady")[4] < 7, "\(hour("steady"))")
        #expect(hour("faulty")[6] == 60 && hour("faulty")[7] == 12)
        #expect(r("steady") > r("faulty") && r("faulty") > r("bursty"), "R′: steady \(r("steady")), faulty \(r("faulty")), bursty \(r("bursty"))")
        #expect(r("bursty") < 800 && r("faulty") <= 800)

        // Sealed: the entry's receipt verifies offline, and the entry holds these figures.
        let index = try #require(byID["bursty"]!["ledgerIndex"] as? Int)
        let receipt = rig.dir.file("reliability-receipt.json")
        try rig.agora(["ledger", "receipt", String(index)]).write(toFile: receipt, atomically: true, encoding: .utf8)
        let checked = try runProcess("/usr/bin/python3", [Self.verifier, receipt, try rig.cli.logKey()])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        let entry = try rig.agora(["ledger", "show", "--from", String(index), "--limit", "1"])
        #expect(entry.contains(#""type":"reliability""#) && entry.contains(#""sensor":"bursty""#) && entry.contains(#""reliability":\#(r("bursty"))"#), "\(entry)")
    }
}
