import AgoraTestSupport
import Foundation
import Testing

/// Three gateways on three hosts (network namespaces on a bridge the test creates), each
/// the C2SP witness of the other two over HTTPS, with k = 2: receipts carry two
/// cosignatures that the independent Python verifier accepts; with one witness down they
/// carry one, and say so; the witness back catches up by a consistency proof; and a store
/// rolled back to a backup and written on (a fork of the history the witnesses saw) is
/// refused by both witnesses and reported by the gateway and by `ledger verify --against`.
@Suite(.serialized) struct WitnessNetworkTests {
    static let python = "/usr/bin/python3"
    static let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("verify_receipt.py").path

    /// A bridge and three namespaces with one veth each, removed by `tearDown`.
    final class Network {
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        let subnet = "10.\(Int.random(in: 100...199)).\(Int.random(in: 1...250))"
        var bridge: String { "agbr\(tag)" }
        func namespace(_ n: Int) -> String { "agw\(tag)-\(n)" }
        func address(_ n: Int) -> String { "\(subnet).\(n)" }

        init(hosts: Int) throws {
            var commands = ["ip link add \(bridge) type bridge", "ip link set \(bridge) up"]
            for n in 1...hosts {
                let ns = namespace(n), outside = "agv\(tag)\(n)"
                commands += ["ip netns add \(ns)", "ip -n \(ns) link set lo up",
                             "ip link add \(outside) type veth peer name eth0 netns \(ns)",
                             "ip link set \(outside) master \(bridge) up",
                             "ip -n \(ns) addr add \(address(n))/24 dev eth0", "ip -n \(ns) link set eth0 up"]
            }
            for command in commands {
                let result = try runProcess("/bin/sh", ["-c", command])
                guard result.status == 0 else { tearDown(hosts: hosts); throw AgoraCLI.Failure(description: "\(command): \(result.stderr)") }
            }
        }

        func tearDown(hosts: Int) {
            for n in 1...hosts { _ = try? runProcess("/bin/sh", ["-c", "ip netns del \(namespace(n))"]) }
            _ = try? runProcess("/bin/sh", ["-c", "ip link del \(bridge)"])
        }
    }

    struct Gateway {
        let n: Int
        let cli: AgoraCLI
        let state: String
        let logKey: String
        let witnessKey: String
        var domain: String { "gw\(n).example" }
    }

    @Test func threeGatewaysWitnessEachOtherOverHTTPSAndAForkOrRollbackIsRefusedAndReported() throws {
        let network = try Network(hosts: 3)
        defer { network.tearDown(hosts: 3) }
        let dir = try TemporaryDirectory("agora-witness-net")
        defer { dir.remove() }

        var gateways: [Gateway] = []
        var caBundle = ""
        for n in 1...3 {
            let cli = AgoraCLI(stateDirectory: dir.file("gw\(n)"))
            let logKey = try cli.ok(["init", "--domain", "gw\(n).example"]).trimmingCharacters(in: .whitespacesAndNewlines)
            let witnessKey = try cli.ok(["witness", "key"]).trimmingCharacters(in: .whitespacesAndNewlines)
            caBundle += try cli.ok(["ca", "show"])
            gateways.append(Gateway(n: n, cli: cli, state: dir.file("gw\(n)"), logKey: logKey, witnessKey: witnessKey))
        }
        try caBundle.write(toFile: dir.file("cities-cas.pem"), atomically: true, encoding: .utf8)
        let gw1 = gateways[0], gw2 = gateways[1], gw3 = gateways[2]
        try gw1.cli.addAccount("owner@gw1.example", role: "owner", password: "owner-pass-1")
        try gw1.cli.addAccount("buyer@gw1.example", role: "consumer", password: "buyer-pass-1")
        _ = try gw1.cli.ok(["credit", "mint", "buyer@gw1.example", "100"])
        _ = try gw1.cli.ok(["sensor", "add", "air-1", "--owner", "owner@gw1.example", "--kind", "pm25", "--price", "1"])

        func start(_ gateway: Gateway, caFile: String? = nil) throws -> Process {
            let others = gateways.filter { $0.n != gateway.n }
            let environment = [
                "AGORA_XMPP_BIND_ADDRESS": network.address(gateway.n), "AGORA_XMPP_C2S_PORT": "5222", "AGORA_XMPP_TLS_PORT": "5223",
                "AGORA_HTTP_BIND_ADDRESS": network.address(gateway.n), "AGORA_HTTP_PORT": "8443",
                "AGORA_WITNESS_LOGS": others.map(\.logKey).joined(separator: ","),
                "AGORA_WITNESS_PEERS": others.map { "https://\($0.domain):8443 \($0.witnessKey)" }.joined(separator: ","),
                "AGORA_WITNESS_ROUTES": others.map { "\($0.domain)=\(network.address($0.n)):8443" }.joined(separator: ","),
                "AGORA_WITNESS_CA_FILE": caFile ?? dir.file("cities-cas.pem"), "AGORA_WITNESS_MIN_COSIGNATURES": "2",
            ]
            let log = dir.file("serve\(gateway.n).log")
            let offset = fileSize(log)
            let serve = try spawn("/usr/sbin/ip", ["netns", "exec", network.namespace(gateway.n), agoraExecutable, "serve", "--state-dir", gateway.state],
                                  log: log, environment: environment)
            try waitUntil("gw\(gateway.n) is ready", timeout: 60, details: { String(fileText(log, from: offset).suffix(3000)) }) {
                guard serve.isRunning else { throw AgoraCLI.Failure(description: "gw\(gateway.n) exited: \(fileText(log, from: offset).suffix(3000))") }
                return fileText(log, from: offset).contains("agora serve ready")
            }
            return serve
        }

        /// Python's verdict on gw1's receipt for entry `index`, requiring `minimum` of gw2's and gw3's cosignatures.
        func verify(_ index: Int, minimum: Int) throws -> (ok: Bool, output: String) {
            let path = dir.file("receipt-\(index).json")
            try gw1.cli.ok(["ledger", "receipt", String(index)]).write(toFile: path, atomically: true, encoding: .utf8)
            let result = try runProcess(Self.python, [Self.verifier, path, gw1.logKey, "--witness", gw2.witnessKey, "--witness", gw3.witnessKey,
                                                      "--min-witnesses", String(minimum)])
            return (result.status == 0, result.stdout + result.stderr)
        }
        func entries() throws -> Int {
            Int(try gw1.cli.ok(["ledger", "checkpoint"]).split(separator: "\n")[1]) ?? 0
        }

        var serves = try gateways.map { try start($0) }
        defer { serves.forEach(stopHard) }

        // 1. A purchase on gw1: its receipt gets both witnesses' cosignatures.
        _ = try gw1.cli.ok(["purchase", "--buyer", "buyer@gw1.example", "--sensor", "air-1", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T11:00:00Z"])
        let purchase = try entries() - 1
        try waitUntil("the purchase's receipt has two cosignatures", timeout: 60, details: { (try? verify(purchase, minimum: 2).output) ?? "" }) {
            try verify(purchase, minimum: 2).ok
        }
        #expect(try verify(purchase, minimum: 2).output.contains("witnessed by gw2.example/witness,gw3.example/witness"))
        // A backup of gw1's store as of now (stopped for a consistent copy).
        stopHard(serves[0])
        _ = try runProcess("/bin/cp", ["-a", gw1.state, dir.file("gw1-backup")])
        serves[0] = try start(gw1)

        // 2. gw3 down: a new entry gets gw2's cosignature only, and the receipt says so.
        stopHard(serves[2])
        _ = try gw1.cli.ok(["credit", "mint", "buyer@gw1.example", "5"])
        let mint = try entries() - 1
        try waitUntil("the mint's receipt has gw2's cosignature", timeout: 60, details: { (try? verify(mint, minimum: 1).output) ?? "" }) {
            try verify(mint, minimum: 1).ok
        }
        let lacking = try verify(mint, minimum: 2)
        #expect(!lacking.ok && lacking.output.contains("1 of the witnesses given; 2 required"), "\(lacking.output)")

        // 3. gw3 back: it catches up from the size it cosigned by a consistency proof.
        serves[2] = try start(gw3)
        try waitUntil("the mint's receipt has both cosignatures again", timeout: 90, details: { (try? verify(mint, minimum: 2).output) ?? "" }) {
            try verify(mint, minimum: 2).ok
        }
        // gw2 trusting only its own CA cannot verify its witnesses' certificates: no
        // cosignature reaches its log, and it says why (TLS really is checked).
        stopHard(serves[1])
        try gw2.cli.ok(["ca", "show"]).write(toFile: dir.file("gw2-only.pem"), atomically: true, encoding: .utf8)
        let gw2Log = dir.file("serve2.log"), beforeDistrust = fileSize(gw2Log)
        serves[1] = try start(gw2, caFile: dir.file("gw2-only.pem"))
        try gw2.cli.addAccount("someone@gw2.example", role: "consumer", password: "someone-pass-1")
        try waitUntil("gw2 reports its witnesses' certificates unverifiable", timeout: 60, details: { String(fileText(gw2Log, from: beforeDistrust).suffix(2000)) }) {
            let text = fileText(gw2Log, from: beforeDistrust)
            return ["gw1.example/witness", "gw3.example/witness"].allSatisfy { name in
                text.split(separator: "\n").contains { $0.contains("witness: no cosignature") && $0.contains(name) }
            }
        }
        let newest = Int(try gw2.cli.ok(["ledger", "checkpoint"]).split(separator: "\n")[1])! - 1
        let distrusted = try gw2.cli.ok(["ledger", "receipt", String(newest)])
        #expect(!distrusted.contains("/witness "), "gw2's new entry was cosigned over unverified TLS: \(distrusted)")
        stopHard(serves[1])
        serves[1] = try start(gw2)

        // The checkpoint both witnesses cosigned, kept as evidence for the end.
        let witnessed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("receipt-\(mint).json")))) as! [String: Any]
        try (witnessed["checkpoint"] as! String).write(toFile: dir.file("witnessed-checkpoint"), atomically: true, encoding: .utf8)

        // 4. gw1's store restored from the backup and written on: the same key, another
        // entry at the same index — a fork of what both witnesses cosigned.
        stopHard(serves[0])
        _ = try runProcess("/bin/rm", ["-rf", gw1.state])
        _ = try runProcess("/bin/cp", ["-a", dir.file("gw1-backup"), gw1.state])
        _ = try gw1.cli.ok(["credit", "mint", "buyer@gw1.example", "7"])
        _ = try gw1.cli.ok(["credit", "mint", "buyer@gw1.example", "9"])
        let forkedLog = dir.file("serve1.log")
        let before = fileSize(forkedLog)
        serves[0] = try start(gw1)
        try waitUntil("gw1 reports that both witnesses dispute its history", timeout: 60, details: { String(fileText(forkedLog, from: before).suffix(3000)) }) {
            let text = fileText(forkedLog, from: before)
            return ["gw2.example/witness", "gw3.example/witness"].allSatisfy { name in
                text.split(separator: "\n").contains { $0.contains("the log's history is disputed") && $0.contains(name) }
            }
        }
        let forked = try entries() - 1
        let refused = try verify(forked, minimum: 1)
        #expect(!refused.ok, "a witness cosigned the fork: \(refused.output)")
        for serve in [serves[1], serves[2]] { #expect(serve.isRunning) }
        let witnessLogs = fileText(dir.file("serve2.log")) + fileText(dir.file("serve3.log"))
        #expect(witnessLogs.contains("refused a checkpoint that does not extend what was cosigned"))
        // The evidence: the checkpoint the witnesses cosigned, against the forked store.
        let against = try gw1.cli.run(["ledger", "verify", "--against", dir.file("witnessed-checkpoint")])
        #expect(against.status == 1 && (against.stdout.contains("FORKED") || against.stdout.contains("ROLLED BACK")), "\(against)")
        #expect(against.stdout.contains(try String(contentsOfFile: dir.file("witnessed-checkpoint"), encoding: .utf8)), "the evidence is printed")
    }
}
