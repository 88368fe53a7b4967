import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraStore
import AgoraTestSupport
import Crypto

/// A market over a fresh ledger, with an operator-opened owner (alice), a consumer (bob)
/// holding 100 credits, and a sensor `temp-1` of alice's at 10 credits per hour.
struct MarketFixture {
    let dir: TemporaryDirectory
    let store: Store
    let ledger: Ledger
    let market: Market
    let alice = try! BareJID("alice@gw1.example")
    let bob = try! BareJID("bob@gw1.example")
    let carol = try! BareJID("carol@gw1.example")
    let sensor = try! SensorID("temp-1")
    static let now = try! Timestamp(rfc3339: "2026-11-22T10:00:00Z")

    init(window: Duration = .zero) async throws {
        dir = try TemporaryDirectory()
        store = try makeTestStore(in: dir, window: window)
        let signer = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        ledger = Ledger(tables: store.tables, origin: "gw1.example/agora", signer: signer)
        ledger.installCheckpointHook(on: store.writer)
        market = Market(store: store, ledger: ledger, clock: { MarketFixture.now })
        let genesis = LedgerEntry(time: Self.now, actor: .gateway, body: .genesis(.init(
            origin: "gw1.example/agora", name: "GW", logKey: signer.verifier.description, checkpointInterval: 1000)))
        let ledger = self.ledger
        _ = try await store.write { txn in try ledger.initialize(genesis: genesis, in: txn) }
        _ = try await market.openAccount(alice, role: .owner, actor: .operator)
        _ = try await market.openAccount(bob, role: .consumer, actor: .operator)
        _ = try await market.openAccount(carol, role: .consumer, actor: .operator)
        _ = try await market.mint(try Credits(100), to: bob, memo: "start", actor: .operator)
        _ = try await market.registerSensor(.init(sensor: sensor, owner: alice, kind: "temperature", name: "", unit: "Cel",
                                                  price: try Credits(10), frequency: 60, lat: nil, lon: nil, url: ""), actor: .operator)
    }

    func close() { store.close(); dir.remove() }

    func time(_ text: String) -> Timestamp { try! Timestamp(rfc3339: text) }

    func balance(_ jid: BareJID) throws -> UInt64 { try market.read { try $0.balance(jid).value } }

    var ledgerSize: UInt64 { get throws { try store.read { try ledger.size(in: $0) } } }

    /// Every table byte, for "nothing changed" checks.
    func snapshot() throws -> [String: [[UInt8]]] {
        try store.read { txn in
            var result: [String: [[UInt8]]] = [:]
            for db in store.tables.derivedFromLedger + [store.tables.ledgerEntries, store.tables.meta] {
                var rows: [[UInt8]] = []
                try txn.scan(db) { key, value in rows.append(Array(key) + [0xFF] + Array(value)); return true }
                result[db.name] = rows
            }
            return result
        }
    }
}
