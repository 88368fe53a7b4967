import AgoraCore
import AgoraLedger
import AgoraReadings
import AgoraStore
import Testing

@Suite struct ReadingsRetentionTests {
    let now: Int64 = 1_795_341_600_000_000_000
    let hour: Int64 = 3_600_000_000_000

    @Test func readingsOlderThanTheAgeLimitArePrunedAndTheLedgerStaysIntact() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        // Per sensor: 30 hours of readings, 100 per hour.
        for h in 0..<30 {
            let batch = (0..<100).map { i in Reading(name: "pm25", time: now - Int64(h) * hour - Int64(i) * 1_000_000_000, value: .number(Double(i))) }
            _ = try await committer.commit([f.a: batch, f.b: batch])
        }
        let ledgerSize = try f.store.read { try f.ledger.size(in: $0) }
        let retention = ReadingsRetention(store: f.store, policy: .init(maxAgeSeconds: 24 * 3600), chunk: 500)
        let deleted = try await retention.prune(now: now)
        let query = ReadingsQuery(store: f.store, ledger: f.ledger)
        for sensor in [f.a, f.b] {
            let kept = try query.readings(of: sensor)
            #expect(kept.allSatisfy { $0.time >= now - 24 * hour })
            #expect(kept.count == 2400 + 1) // 24 full hours, plus the reading exactly at the cutoff
        }
        #expect(deleted == 2 * (3000 - 2401))
        #expect(try f.store.read { try f.ledger.size(in: $0) } == ledgerSize, "pruning touched the ledger")
        _ = try LedgerAudit.verify(store: f.store)
        // A second pass finds nothing more.
        #expect(try await retention.prune(now: now) == 0)
    }

    @Test func theSizeLimitRemovesTheOldestFirstUntilTheTableFits() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let committer = ReadingsCommitter(store: f.store, ledger: f.ledger)
        for h in 0..<20 {
            let batch = (0..<200).map { i in Reading(name: "pm25", time: now - Int64(h) * hour - Int64(i) * 1_000_000_000, unit: "ug/m3", value: .string(String(repeating: "x", count: 100))) }
            _ = try await committer.commit([f.a: batch])
        }
        let unlimited = ReadingsRetention(store: f.store, policy: .init())
        let before = try unlimited.tableBytes()
        let limit = before / 4
        let retention = ReadingsRetention(store: f.store, policy: .init(maxBytes: limit), chunk: 200)
        _ = try await retention.prune(now: now)
        #expect(try retention.tableBytes() <= limit)
        let kept = try ReadingsQuery(store: f.store, ledger: f.ledger).readings(of: f.a)
        #expect(!kept.isEmpty)
        // What is left is the newest: nothing kept is older than anything deleted.
        var all: [Int64] = []
        for h in 0..<20 {
            for i in 0..<200 { all.append(now - Int64(h) * hour - Int64(i) * 1_000_000_000) }
        }
        let newest = all.sorted(by: >)
        #expect(kept.map(\.time).sorted(by: >) == Array(newest.prefix(kept.count)))
    }
}
