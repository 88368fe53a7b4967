@testable import AgoraApp
import AgoraTestSupport
import Foundation
import Testing

/// `agora device pair` and `agora device publish` against a real Mosquitto configured by
/// `agora broker-config` and a real `agora serve` (the rig of `PairingTests`): the reference
/// sensor pairs with a code as a person types it, then publishes readings the gateway
/// stores; refusals and wrong ports are named.
@Suite(.serialized) struct DeviceCommandTests {
    typealias Rig = PairingTests.Rig

    /// `agora device ARGUMENTS` (no state directory: it runs on the device).
    func device(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(agoraExecutable, ["device"] + arguments)
    }

    func pair(_ rig: Rig, _ id: String, code: String, port: Int? = nil, out: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try device(["pair", id, code, "--broker", "localhost:\(port ?? rig.mosquitto.pairingPort)", "--ca", rig.broker + "/ca.pem",
                    "--out", out, "--timeout", "20s"])
    }

    func mode(_ path: String) throws -> Int {
        ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    /// The readings the gateway stored for `id`.
    func stored(_ rig: Rig, _ id: String) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(try rig.agora(["readings", "export", "--sensor", id, "--format", "json"]).utf8)) as! [[String: Any]]
    }

    @Test func aDevicePairsWithTheCodeTypedLowerCaseThenItsPublishedPacksAreStored() throws {
        let rig = try Rig()
        let code = try rig.invite("s1")
        let typed = code.lowercased().replacingOccurrences(of: "-", with: "")
        let out = rig.dir.file("s1-device")
        let paired = try pair(rig, "s1", code: typed, out: out)
        #expect(paired.status == 0, "\(paired.stderr)")
        #expect(paired.stdout.contains("valid until"), "\(paired.stdout)")
        for name in ["key.pem", "cert.pem", "ca.pem"] {
            #expect(try mode(out + "/" + name) == 0o600, "\(name)")
        }
        #expect(try mode(out) == 0o700)
        let verified = try runProcess("/usr/bin/openssl", ["verify", "-CAfile", out + "/ca.pem", out + "/cert.pem"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let sensors = try JSONSerialization.jsonObject(with: Data(try rig.agora(["sensor", "list", "--json"]).utf8)) as! [[String: Any]]
        #expect(sensors.compactMap { ($0["registration"] as? [String: Any])?["sensor"] as? String } == ["s1"])

        // Five packs, one a line, from a file: all acknowledged, all stored.
        let now = Int(Date().timeIntervalSince1970)
        let packs = (1...5).map { #"[{"n":"pm25","t":\#(now - 60 + $0),"v":\#($0).5}]"# }.joined(separator: "\n") + "\n"
        try packs.write(toFile: rig.dir.file("packs.jsonl"), atomically: true, encoding: .utf8)
        let published = try device(["publish", "s1", "--broker", "localhost:\(rig.port)", "--dir", out, "--senml", rig.dir.file("packs.jsonl"),
                                    "--timeout", "20s"])
        #expect(published.status == 0, "\(published.stderr)")
        #expect(published.stdout.contains("published 5 packs, 5 acknowledged by the broker"), "\(published.stdout)")
        #expect(published.stdout.split(separator: "\n").filter { $0.hasSuffix("acknowledged by the broker") && $0.hasPrefix("pack ") }.count == 5)
        try waitUntil("the gateway has stored the 5 readings", details: { fileText(rig.dir.file("serve.log")).suffix(2000).description }) {
            try stored(rig, "s1").count == 5
        }
        #expect(try stored(rig, "s1").compactMap { $0["v"] as? Double } == [1.5, 2.5, 3.5, 4.5, 5.5])
    }

    @Test func aWrongCodeIsRefusedWithTheGatewaysReasonAndLeavesNothingBehind() throws {
        let rig = try Rig()
        _ = try rig.invite("s2")
        let out = rig.dir.file("s2-device")
        let refused = try pair(rig, "s2", code: "aaaa-bbbb-cccc-dddd-eeee", out: out)
        #expect(refused.status == 1)
        // The gateway's reason, verbatim (PairingRefusal.wrongProof).
        #expect(refused.stderr.hasPrefix("agora: error: the gateway refused the pairing: wrong proof: the code does not match"), "\(refused.stderr)")
        #expect(try rig.sensorCount == 0)
        #expect(!FileManager.default.fileExists(atPath: out), "\((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [])")

        // Not a code at all: refused before anything is sent.
        let typo = try pair(rig, "s2", code: "abcd-efgh-ijkl-mnop-qrst", out: out)
        #expect(typo.status == 1)
        #expect(typo.stderr.contains("not a pairing code: expected 20 letters and digits"), "\(typo.stderr)")
    }

    @Test func pairingAgainstTheCertificateListenerNamesThePairingListener() throws {
        let rig = try Rig()
        let code = try rig.invite("s3")
        let out = rig.dir.file("s3-device")
        let wrongPort = try pair(rig, "s3", code: code, port: rig.port, out: out)
        #expect(wrongPort.status == 1)
        #expect(wrongPort.stderr.contains("localhost:\(rig.port) is the certificate listener"), "\(wrongPort.stderr)")
        #expect(wrongPort.stderr.contains("pairing uses the pairing listener (agora broker-config's --port-pair, default 8884)"), "\(wrongPort.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // The code was not spent: the right listener pairs with it.
        #expect(try pair(rig, "s3", code: code, out: out).status == 0)
    }

    @Test func simulatedReadingsArePublishedOnePerPeriodAndStored() throws {
        let rig = try Rig()
        let out = rig.dir.file("s4-device")
        let paired = try pair(rig, "s4", code: try rig.invite("s4"), out: out)
        try #require(paired.status == 0, "\(paired.stderr)")
        // The pairing listener would acknowledge readings and drop them: publish refuses it.
        let wrongPort = try device(["publish", "s4", "--broker", "localhost:\(rig.mosquitto.pairingPort)", "--dir", out,
                                    "--simulate", "pm25", "--count", "1", "--timeout", "20s"])
        #expect(wrongPort.status == 1)
        #expect(wrongPort.stderr.contains("is the pairing listener"), "\(wrongPort.stderr)")

        let published = try device(["publish", "s4", "--broker", "localhost:\(rig.port)", "--dir", out,
                                    "--every", "1s", "--simulate", "pm25", "--count", "3", "--timeout", "20s"])
        #expect(published.status == 0, "\(published.stderr)")
        #expect(published.stdout.contains("published 3 packs, 3 acknowledged by the broker"), "\(published.stdout)")
        try waitUntil("the gateway has stored the 3 simulated readings", details: { fileText(rig.dir.file("serve.log")).suffix(2000).description }) {
            try stored(rig, "s4").count == 3
        }
        let readings = try stored(rig, "s4")
        #expect(readings.allSatisfy { $0["n"] as? String == "s4:pm25" && $0["u"] as? String == "ug/m3" }, "\(readings)")
        // One a period: three distinct times, a second or so apart.
        let times = readings.compactMap { ($0["t"] as? NSNumber)?.int64Value }
        #expect(Set(times).count == 3 && times.sorted() == times, "\(times)")
    }
}

/// The device's side of pairing with no broker at all: the state machine `agora device pair`
/// runs (`PairingExchange`), and how libmosquitto's reports become errors (`BrokerFailure`,
/// fed the lines Mosquitto 2.0.11 and OpenSSL 3.0 really produce).
struct PairingExchangeTests {
    let address = try! BrokerAddress(parsing: "localhost:8884")

    @Test func theRequestLeavesOnlyOnceTheSubscriptionIsGrantedAndAnEarlierAnswerIsNotTaken() throws {
        var exchange = PairingExchange(responseTopic: "agora/pair/s1/response", address: address)
        #expect(exchange.connected() == .subscribe)
        exchange.subscribeSent(messageID: 7)
        #expect(exchange.subscribed(messageID: 6, granted: [1]) == .wait) // another SUBACK
        let stranger = Array(#"{"reason":"wrong proof: the code does not match","status":"error"}"#.utf8)
        #expect(exchange.received(topic: "agora/pair/s1/response", payload: stranger) == .wait) // before our request
        #expect(exchange.subscribed(messageID: 7, granted: [1]) == .publishRequest)
        exchange.requestSent(true)
        let answer = exchange.received(topic: "agora/pair/s1/response", payload: Array(#"{"reason":"no invitation for s1","status":"error"}"#.utf8))
        guard case .fail(let error) = answer else { Issue.record("\(answer)"); return }
        #expect(error.code == .refused && error.description.hasSuffix("no invitation for s1"))
    }

    @Test func aRefusedSubscriptionAndAnUnreadableAnswerAreErrors() {
        var refused = PairingExchange(responseTopic: "agora/pair/s1/response", address: address)
        _ = refused.connected()
        refused.subscribeSent(messageID: 1)
        guard case .fail(let error) = refused.subscribed(messageID: 1, granted: [0x80]) else { Issue.record("granted"); return }
        #expect(error.code == .brokerRefused)

        var garbled = PairingExchange(responseTopic: "agora/pair/s1/response", address: address)
        _ = garbled.connected()
        garbled.subscribeSent(messageID: 1)
        _ = garbled.subscribed(messageID: 1, granted: [1])
        garbled.requestSent(true)
        guard case .fail(let bad) = garbled.received(topic: "agora/pair/s1/response", payload: Array(#"{"status":"ok"}"#.utf8)) else {
            Issue.record("accepted"); return
        }
        #expect(bad.code == .badResponse)
    }

    @Test func aFailureBeforeAnyConnectionEndsPairingButALaterDropIsWaitedOut() {
        var first = PairingExchange(responseTopic: "agora/pair/s1/response", address: address)
        #expect(first.failed(.connectionRefused(address), everConnected: false) == .fail(.connectionRefused(address)))

        var dropped = PairingExchange(responseTopic: "agora/pair/s1/response", address: address)
        _ = dropped.connected()
        dropped.subscribeSent(messageID: 1)
        _ = dropped.subscribed(messageID: 1, granted: [1])
        dropped.requestSent(true)
        #expect(dropped.failed(.connectionFailed(address, "The connection was lost"), everConnected: true) == .wait)
        #expect(dropped.connected() == .wait) // the persistent session kept the subscription
        guard case .fail(let error) = dropped.timedOut(after: 30) else { Issue.record("no timeout"); return }
        #expect(error.code == .noAnswer)
        #expect(error.description == "no answer from the gateway on agora/pair/s1/response within 30 s: is agora serve running and connected to this broker?")
    }

    @Test func libmosquittoReportsBecomeErrorsThatNameTheCause() {
        // No client certificate on the certificate listener (TLS 1.3): "connection lost", EPROTO.
        let certificateRequired = BrokerFailure(result: 7, systemError: EPROTO,
                                                errorLines: ["OpenSSL Error[0]: error:0A00045C:SSL routines::tlsv13 alert certificate required"])
        #expect(certificateRequired.error(listener: .pairing, address: address, caFile: "ca.pem").code == .certificateListener)
        #expect(certificateRequired.error(listener: .certificate, address: address, caFile: "ca.pem").code == .certificateRejected)
        let foreignCA = BrokerFailure(result: 8, systemError: 0, errorLines: ["OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed"])
        #expect(foreignCA.error(listener: .pairing, address: address, caFile: "ca.pem").description.hasSuffix("does not chain to ca.pem"))
        let wrongName = BrokerFailure(result: 8, systemError: 0, errorLines: [
            "Error: host name verification failed.", "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed"])
        #expect(wrongName.error(listener: .pairing, address: address, caFile: "ca.pem").description.contains("does not name localhost"))
        let nobody = BrokerFailure(result: 14, systemError: ECONNREFUSED, errorLines: [])
        #expect(nobody.error(listener: .pairing, address: address, caFile: "ca.pem").code == .connectionRefused)
    }
}
