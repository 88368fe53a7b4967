import AgoraCore
import AgoraLedger
import AgoraMarket
import AgoraReadings
import AgoraStore
import AgoraTestSupport
import Crypto
import Foundation
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing
@testable import AgoraMQTT

/// A ledger with one registered sensor (`air-1`) and an ingester over a fresh queue.
struct IngestFixture: Sendable {
    let dir: TemporaryDirectory
    let store: Store
    let ledger: Ledger
    let queue = IngestQueue()
    let service: IngestService
    let sensor = try! SensorID("air-1")

    init() async throws {
        dir = try TemporaryDirectory("agora-ingest")
        store = try makeTestStore(in: dir)
        let signer = try NoteSigner(name: "gw1.example/agora", privateKey: Curve25519.Signing.PrivateKey())
        let ledger = Ledger(tables: store.tables, origin: "gw1.example/agora", signer: signer)
        self.ledger = ledger
        let market = Market(store: store, ledger: ledger)
        let genesis = LedgerEntry(time: .now(), actor: .gateway, body: .genesis(.init(origin: "gw1.example/agora", name: "GW",
                                                                                       logKey: signer.verifier.description, checkpointInterval: 1000)))
        _ = try await store.write { txn in try ledger.initialize(genesis: genesis, in: txn) }
        let owner = try BareJID("owner@gw1.example")
        _ = try await market.openAccount(owner, role: .owner, actor: .operator)
        _ = try await market.registerSensor(.init(sensor: sensor, owner: owner, kind: "pm25", name: "", unit: "ug/m3", price: try Credits(1),
                                                  frequency: 1, lat: nil, lon: nil, url: ""), actor: .operator)
        service = IngestService(queue: queue, committer: ReadingsCommitter(store: store, ledger: ledger), logger: testLogger())
    }

    /// A pack of one reading with value `value`, at a distinct time.
    func pack(_ value: Int) -> IngestQueue.Message {
        let time = 1_795_341_600 + value
        return .init(topic: .readings(sensor), payload: Array(#"[{"n":"pm25","t":\#(time),"v":\#(value)}]"#.utf8), received: Int64(time) * 1_000_000_000)
    }

    func stored() throws -> [Reading] { try ReadingsQuery(store: store, ledger: ledger).readings(of: sensor) }

    func close() { store.close(); dir.remove() }
}

@Suite struct IngestServiceTests {
    @Test func aBatchsAcknowledgementsAreReleasedOnlyAfterItsReadingsAreStored() async throws {
        let f = try await IngestFixture()
        defer { f.close() }
        for value in 0..<10 { f.queue.offer(f.pack(value)) }
        let mark = f.queue.offered
        try await testGracefulShutdown { shutdown in
            let ingester = Task { try await f.service.run() }
            // The network thread's wait: when it is let go, every reading it would acknowledge is durable.
            let (settled, storedWhenReleased) = await onThread {
                (f.queue.waitUntilSettled(mark) { true }, (try? f.stored().count) ?? -1)
            }
            #expect(settled)
            #expect(storedWhenReleased == 10)
            shutdown.triggerGracefulShutdown()
            try await ingester.value
        }
        #expect(f.service.statistics.stored == 10)
    }

    @Test func theIngesterWakesForAPackPushedAfterItWentIdle() async throws {
        let f = try await IngestFixture()
        defer { f.close() }
        try await testGracefulShutdown { shutdown in
            let ingester = Task { try await f.service.run() }
            while !f.queue.hasParkedIngester { await Task.yield() }
            f.queue.offer(f.pack(1))
            let mark = f.queue.offered
            #expect(await onThread { f.queue.waitUntilSettled(mark) { true } })
            #expect(try f.stored().map(\.value) == [.number(1)])
            // And again, after going idle a second time.
            while !f.queue.hasParkedIngester { await Task.yield() }
            f.queue.offer(f.pack(2))
            let second = f.queue.offered
            #expect(await onThread { f.queue.waitUntilSettled(second) { true } })
            #expect(try f.stored().count == 2)
            shutdown.triggerGracefulShutdown()
            try await ingester.value
        }
    }

    @Test func gracefulShutdownDrainsAndSettlesEverythingQueued() async throws {
        let f = try await IngestFixture()
        defer { f.close() }
        for value in 0..<50 { f.queue.offer(f.pack(value)) }
        try await testGracefulShutdown { shutdown in
            // Shutdown already requested when the ingester starts: it still stores all that is queued.
            shutdown.triggerGracefulShutdown()
            try await f.service.run()
        }
        #expect(f.queue.count == 0)
        #expect(f.queue.settled == f.queue.offered)
        #expect(try f.stored().count == 50)
        #expect(f.service.statistics.packs == 50 && f.service.statistics.stored == 50)
    }

    @Test func gracefulShutdownWakesAnIdleIngester() async throws {
        let f = try await IngestFixture()
        defer { f.close() }
        try await testGracefulShutdown { shutdown in
            let ingester = Task { try await f.service.run() }
            while !f.queue.hasParkedIngester { await Task.yield() }
            shutdown.triggerGracefulShutdown()
            try await ingester.value // returns: the shutdown handler woke it
        }
    }

    @Test func cancellationEndsAnIdleIngester() async throws {
        let f = try await IngestFixture()
        defer { f.close() }
        let ingester = Task { try await f.service.run() }
        while !f.queue.hasParkedIngester { await Task.yield() }
        ingester.cancel()
        try await ingester.value
    }

    @Test func aPackOnAnUnexpectedTopicIsCountedDroppedAndStillSettled() async throws {
        let f = try await IngestFixture()
        defer { f.close() }
        f.queue.offer(.init(topic: GatewayTopic("agora/sensors/not valid/senml", prefix: "agora"), payload: Array("[]".utf8), received: 0))
        f.queue.offer(f.pack(7))
        try await testGracefulShutdown { shutdown in
            shutdown.triggerGracefulShutdown()
            try await f.service.run()
        }
        #expect(f.service.statistics.badTopic == 1 && f.service.statistics.stored == 1)
        #expect(f.queue.settled == 2)
    }
}
