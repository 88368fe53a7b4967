// Issue 2 benchmarks (b)–(e); (a) is Benchmarks/raw-lmdb/raw_lmdb.c. Run through
// Benchmarks/run.sh, which builds in release mode and prints the ratios.
import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraPKI
import AgoraStore
import Crypto
import Foundation
import Logging
import SwiftASN1
import X509

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: agora-bench DIR [APPENDS] [PURCHASES]")
    exit(2)
}
let directory = arguments[1]
let appendCount = arguments.count > 2 ? Int(arguments[2])! : 1_000_000
let purchaseCount = arguments.count > 3 ? Int(arguments[3])! : 200_000
let submitters = 64
let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}()

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func report(_ name: String, _ value: Double, _ unit: String) { print(String(format: "%@ %.1f %@", name, value, unit)) }

// Codec costs on the hot path (context for the numbers below).
if ProcessInfo.processInfo.environment["BENCH_ONLY"] == nil {
    let jid = try BareJID("bench@bench.example")
    let entry = LedgerEntry(time: .now(), actor: .operator, body: .purchase(.init(
        id: "0123456789abcdef0123456789abcdef", buyer: jid, sensor: try SensorID("sensor-1"), from: try Timestamp(seconds: 1_795_000_000),
        to: try Timestamp(seconds: 1_795_003_600), amount: try Credits(12), request: "request-1")))
    let n = 50_000
    var start = ContinuousClock.now
    var bytes: [UInt8] = []
    for _ in 0..<n { bytes = try entry.encoded() }
    report("codec_entry_encode_us", seconds(ContinuousClock.now - start) / Double(n) * 1e6, "(\(bytes.count) bytes)")
    start = ContinuousClock.now
    for _ in 0..<n { _ = try LedgerEntry(decoding: bytes) }
    report("codec_entry_decode_us", seconds(ContinuousClock.now - start) / Double(n) * 1e6, "")
    start = ContinuousClock.now
    for _ in 0..<n { _ = TreeHash.leaf(bytes) }
    report("leaf_hash_us", seconds(ContinuousClock.now - start) / Double(n) * 1e6, "")
}

func makeLedger(_ name: String) throws -> (Store, Ledger, NoteSigner) {
    let path = directory + "/" + name + ".mdb"
    try? FileManager.default.removeItem(atPath: path)
    try? FileManager.default.removeItem(atPath: path + "-lock")
    let environment = ProcessInfo.processInfo.environment
    let window = Int(environment["BENCH_WINDOW_US"] ?? "") ?? 1000
    let quiet = Int(environment["BENCH_QUIET_US"] ?? "") ?? 100
    let store = try Store(path: path, options: .init(mapSize: 1 << 30, maxMapSize: 16 << 30),
                          writerOptions: .init(maxBatch: 512, window: .microseconds(window), quietGap: .microseconds(quiet)), logger: logger)
    let signer = try NoteSigner(name: "bench.example/agora", privateKey: Curve25519.Signing.PrivateKey())
    let ledger = Ledger(tables: store.tables, origin: "bench.example/agora", signer: signer)
    ledger.installCheckpointHook(on: store.writer)
    return (store, ledger, signer)
}

@Sendable func genesis(_ signer: NoteSigner) -> LedgerEntry {
    LedgerEntry(time: .now(), actor: .gateway, body: .genesis(.init(origin: "bench.example/agora", name: "bench",
                                                                     logKey: signer.verifier.description, checkpointInterval: 1000)))
}

let only = ProcessInfo.processInfo.environment["BENCH_ONLY"]
if only == nil || only == "ledger" {
// (b) ledger appends through the group-commit writer, 64 concurrent submitters, durable.
let (store, ledger, signer) = try makeLedger("appends")
let first = genesis(signer)
_ = try await store.write { txn in try ledger.initialize(genesis: first, in: txn) }
let jid = try BareJID("bench@bench.example")
let perSubmitter = appendCount / submitters
let started = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for s in 0..<submitters {
        group.addTask {
            for i in 0..<perSubmitter {
                // A ~200-byte entry, encoded by the caller as the market does.
                let entry = LedgerEntry(time: .now(), actor: .operator, body: .creditMint(.init(
                    to: jid, amount: try Credits(UInt64(i + 1)), memo: "benchmark submitter \(s) append \(i) padding to about two hundred bytes")))
                let bytes = try entry.encoded()
                _ = try await store.write { txn in try ledger.append(encoded: bytes, in: txn) }
            }
        }
    }
    try await group.waitForAll()
}
let appendSeconds = seconds(ContinuousClock.now - started)
let appended = perSubmitter * submitters
let stats = store.writer.statistics
report("ledger_appends_per_s", Double(appended) / appendSeconds, "(\(appended) appends, \(stats.batches) commits, mean batch \(stats.requests / max(1, stats.batches)), largest \(stats.largestBatch); writer applying \(seconds(stats.applying)) s, committing \(seconds(stats.committing)) s of \(appendSeconds) s)")
_ = try await store.write { txn in try ledger.seal(in: txn) }

// (d) ledger verify throughput next to SHA-256 at 256-byte blocks.
let entryBytes = try store.read { txn -> UInt64 in
    var total: UInt64 = 0
    try txn.scan(store.tables.ledgerEntries) { _, value in total += UInt64(value.count); return true }
    return total
}
let verifyStart = ContinuousClock.now
let audit = try LedgerAudit.verify(store: store)
let verifySeconds = seconds(ContinuousClock.now - verifyStart)
report("verify_entries_per_s", Double(audit.entries) / verifySeconds, "")
report("verify_MB_per_s", Double(entryBytes) / verifySeconds / 1e6, "(\(audit.entries) entries, \(entryBytes) bytes, \(audit.checkpoints) checkpoints)")
let block = [UInt8](repeating: 0xA5, count: 256)
let shaStart = ContinuousClock.now
var sink: UInt8 = 0
let blocks = 4_000_000
for _ in 0..<blocks { sink ^= SHA256.hash(data: block).withUnsafeBytes { $0[0] } }
let shaSeconds = seconds(ContinuousClock.now - shaStart)
report("sha256_256B_MB_per_s", Double(blocks * 256) / shaSeconds / 1e6, "(sink \(sink))")

// (e) inclusion-proof generation at the ledger's size.
let size = try store.read { try ledger.size(in: $0) }
var rng = SystemRandomNumberGenerator()
let proofCount = 20_000
let indices = (0..<proofCount).map { _ in UInt64.random(in: 0..<size, using: &rng) }
let proofStart = ContinuousClock.now
try store.read { txn in
    for index in indices { _ = try ledger.tree.inclusionProof(index: index, size: size, in: txn) }
}
report("inclusion_proof_us", seconds(ContinuousClock.now - proofStart) / Double(proofCount) * 1e6, "(tree of \(size) entries, one read txn)")
let receiptStart = ContinuousClock.now
for index in indices.prefix(2000) { _ = try store.read { try ledger.receipt(for: index, in: $0) } }
report("receipt_us", seconds(ContinuousClock.now - receiptStart) / 2000 * 1e6, "(proof + entry + checkpoint, own read txn each)")
store.close()
}

if only == nil || only == "purchases" {
// (c) purchases through the market state machine, durable, 64 concurrent buyers.
let (marketStore, marketLedger, marketSigner) = try makeLedger("market")
let marketGenesis = genesis(marketSigner)
_ = try await marketStore.write { txn in try marketLedger.initialize(genesis: marketGenesis, in: txn) }
let market = Market(store: marketStore, ledger: marketLedger)
let owner = try BareJID("owner@bench.example")
_ = try await market.openAccount(owner, role: .owner, actor: .operator)
let sensors = try (0..<8).map { try SensorID("sensor-\($0)") }
for id in sensors {
    _ = try await market.registerSensor(.init(sensor: id, owner: owner, kind: "temperature", name: "", unit: "Cel",
                                              price: try Credits(1), frequency: 60, lat: nil, lon: nil, url: ""), actor: .operator)
}
let buyers = try (0..<submitters).map { try BareJID("buyer\($0)@bench.example") }
for buyer in buyers {
    _ = try await market.openAccount(buyer, role: .consumer, actor: .operator)
    _ = try await market.mint(try Credits(10_000_000), to: buyer, memo: "", actor: .operator)
}
let perBuyer = purchaseCount / submitters
let marketStats0 = marketStore.writer.statistics
let purchaseStart = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for (b, buyer) in buyers.enumerated() {
        group.addTask {
            for i in 0..<perBuyer {
                let from = try Timestamp(seconds: 1_795_000_000 + Int64(i) * 3600)
                _ = try await market.purchase(buyer: buyer, sensor: sensors[(b + i) % sensors.count], from: from,
                                              to: try Timestamp(seconds: from.seconds + 3600), requestID: "b\(b)-\(i)", actor: .account(buyer))
            }
        }
    }
    try await group.waitForAll()
}
let purchaseSeconds = seconds(ContinuousClock.now - purchaseStart)
let marketStats = marketStore.writer.statistics
let purchaseBatches = marketStats.batches - marketStats0.batches
report("purchases_per_s", Double(perBuyer * submitters) / purchaseSeconds,
       "(\(perBuyer * submitters) purchases, \(purchaseBatches) commits, mean batch \((marketStats.requests - marketStats0.requests) / max(1, purchaseBatches)); writer applying \(seconds(marketStats.applying - marketStats0.applying)) s, committing \(seconds(marketStats.committing - marketStats0.committing)) s of \(purchaseSeconds) s)")
let (minted, sum) = try market.read { (try $0.totalMinted().value, try $0.sumOfBalances()) }
precondition(minted == sum, "invariant broken")
marketStore.close()
}

if only == nil || only == "pki" {
// Issue 3: certificates signed and recorded per second through AgoraPKI — policy check,
// signature, `cert.issue` entry durable — with 64 concurrent requesters on both cores.
let count = Int(ProcessInfo.processInfo.environment["BENCH_CERTS"] ?? "") ?? 5000
let (pkiStore, pkiLedger, pkiSigner) = try makeLedger("pki")
let pkiGenesis = genesis(pkiSigner)
_ = try await pkiStore.write { txn in try pkiLedger.initialize(genesis: pkiGenesis, in: txn) }
let pkiMarket = Market(store: pkiStore, ledger: pkiLedger)
let authority = try CertificateAuthority.create(name: "bench", now: .now())
// Untimed: one DER CSR per certificate, each from its own P-256 key.
let requests: [(CertificateIdentity, [UInt8])] = try (0..<count).map { i in
    let key = P256.Signing.PrivateKey()
    let csr = try CertificateSigningRequest(version: .v1, subject: try DistinguishedName { CommonName("s\(i)") },
                                            privateKey: Certificate.PrivateKey(key), attributes: .init())
    var serializer = DER.Serializer()
    try serializer.serialize(csr)
    return (try CertificateIdentity(parsing: "sensor:s\(i)"), serializer.serializedBytes)
}
let perTask = count / submitters
let certStart = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for t in 0..<submitters {
        group.addTask {
            for i in (t * perTask)..<((t + 1) * perTask) {
                let (identity, der) = requests[i]
                let request = try CSRPolicy.check(der, for: identity)
                let certificate = try authority.issue(request, for: identity, days: 365, now: .now())
                var serializer = DER.Serializer()
                try serializer.serialize(certificate)
                let bytes = serializer.serializedBytes
                let hex = certificate.serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
                _ = try await pkiMarket.recordCertificate(.init(
                    serial: hex, subject: identity.description,
                    fingerprint: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(),
                    notAfter: try Timestamp(seconds: Int64(certificate.notValidAfter.timeIntervalSince1970)),
                    certificate: Data(bytes).base64EncodedString()), actor: .gateway)
            }
        }
    }
    try await group.waitForAll()
}
let certSeconds = seconds(ContinuousClock.now - certStart)
let pkiStats = pkiStore.writer.statistics
report("agora_certs_per_s", Double(perTask * submitters) / certSeconds,
       "(\(perTask * submitters) certificates signed and recorded durably, \(pkiStats.batches) commits; \(submitters) concurrent requesters)")
// The same work without the ledger, one thread: what signing alone costs here.
let signStart = ContinuousClock.now
for (identity, der) in requests.prefix(2000) {
    let certificate = try authority.issue(try CSRPolicy.check(der, for: identity), for: identity, days: 365, now: .now())
    var serializer = DER.Serializer()
    try serializer.serialize(certificate)
}
report("agora_sign_only_per_s_one_thread", 2000 / seconds(ContinuousClock.now - signStart), "(check + issue + DER, no ledger)")
pkiStore.close()
}
