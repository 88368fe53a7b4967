import Foundation
import AgoraStore
import AgoraTestSupport
import Testing

struct Refused: Error, Equatable { let n: Int }

@Suite struct GroupCommitWriterTests {
    @Test func concurrentRequestsKeepTheirOwnResultsAndErrors() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A window so that the concurrent requests really share batches.
        let store = try makeTestStore(in: dir, window: .milliseconds(5))
        defer { store.close() }
        let db = store.tables.meta
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for n in 0..<200 {
                group.addTask {
                    do {
                        let value = try await store.write { txn -> Int in
                            // Every request writes first; odd ones then fail.
                            try txn.put(db, StoreKey.u64(UInt64(n)), [UInt8(n & 0xFF)])
                            if n % 2 == 1 { throw Refused(n: n) }
                            return n * 10
                        }
                        return (n, .success(value))
                    } catch {
                        return (n, .failure(error))
                    }
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (n, outcome) in group { all[n] = outcome }
            return all
        }
        for n in 0..<200 {
            switch outcomes[n] {
            case .success(let value)?:
                #expect(n % 2 == 0)
                #expect(value == n * 10)
            case .failure(let error)?:
                #expect(n % 2 == 1)
                #expect((error as? Refused) == Refused(n: n))
            case nil:
                Issue.record("request \(n) got no answer")
            }
        }
        // The failed requests' writes were rolled back; the others are durable.
        let present = try store.read { txn in try (0..<200).map { try txn.contains(db, StoreKey.u64(UInt64($0))) } }
        #expect(present == (0..<200).map { $0 % 2 == 0 })
        let stats = store.writer.statistics
        #expect(stats.requests == 200)
        #expect(stats.failedRequests == 100)
        #expect(stats.batches < 200, "requests were batched")
    }

    @Test func aRequestAskingToSealMakesItsBatchRunTheSealStepBeforeTheCommit() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let db = store.tables.meta
        let marker = StoreKey.text("sealed")
        store.writer.installSealStep { txn in try txn.put(db, marker, [1]) }
        func sealed() throws -> Bool { try store.read { try $0.contains(db, marker) } }

        try await store.write { txn in try txn.put(db, StoreKey.text("a"), [1]) }
        #expect(try !sealed(), "a request that does not ask runs no seal step")
        await #expect(throws: Refused.self) { try await store.write(sealing: true) { _ -> Int in throw Refused(n: 1) } }
        #expect(try !sealed(), "a refused request asks for nothing")
        let before = store.writer.statistics
        try await store.write(sealing: true) { txn in try txn.put(db, StoreKey.text("b"), [1]) }
        let after = store.writer.statistics
        #expect(try sealed(), "the seal step's write committed with the request")
        #expect(after.batches - before.batches == 1, "one commit")
        #expect(after.sealedBatches - before.sealedBatches == 1)
    }

    @Test func aFailingSealStepLeavesTheRequestsOfItsBatchCommitted() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let db = store.tables.meta
        store.writer.installSealStep { txn in
            try txn.put(db, StoreKey.text("half"), [1])
            throw Refused(n: 0)
        }
        let value = try await store.write(sealing: true) { txn -> Int in
            try txn.put(db, StoreKey.text("b"), [1])
            return 7
        }
        #expect(value == 7)
        #expect(try store.read { try $0.contains(db, StoreKey.text("b")) })
        #expect(try store.read { try !$0.contains(db, StoreKey.text("half")) }, "the seal step's partial write was rolled back")
        #expect(store.writer.statistics.sealedBatches == 0)
    }

    @Test func fullMapGrowsInsteadOfFailing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir, mapSize: 1 << 20, maxMapSize: 64 << 20)
        defer { store.close() }
        let value = [UInt8](repeating: 7, count: 4000)
        for chunk in 0..<40 {
            try await store.write { txn in
                for i in 0..<100 { try txn.put(store.tables.readings, StoreKey.u64(UInt64(chunk * 100 + i)), value) }
            }
        }
        #expect(store.writer.statistics.mapGrowths > 0)
        #expect(store.environment.currentMapSize > 1 << 20)
        #expect(try store.read { try $0.count(store.tables.readings) } == 4000)
    }

    @Test func mapAtItsCeilingRefusesTheBatchAndKeepsServingReads() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir, mapSize: 1 << 20, maxMapSize: 2 << 20)
        defer { store.close() }
        try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("kept"), [1]) }
        let big = [UInt8](repeating: 1, count: 8000)
        await #expect(throws: StoreError.self) {
            try await store.write { txn in
                for i in 0..<1000 { try txn.put(store.tables.readings, StoreKey.u64(UInt64(i)), big) }
            }
        }
        do {
            try await store.write { txn in
                for i in 0..<1000 { try txn.put(store.tables.readings, StoreKey.u64(UInt64(i)), big) }
            }
        } catch let error as StoreError {
            #expect(error.isStoreFull)
        }
        #expect(try store.read { try $0.get(store.tables.meta, StoreKey.text("kept")) } == [1])
        #expect(try store.read { try $0.count(store.tables.readings) } == 0)
        // Small writes still fit afterwards.
        try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("after"), [2]) }
        #expect(try store.read { try $0.get(store.tables.meta, StoreKey.text("after")) } == [2])
    }

    @Test func writesAfterShutdownAreRefusedNotLost() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("a"), [1]) }
        store.close()
        await #expect(throws: StoreError.self) {
            try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("b"), [1]) }
        }
        #expect(try store.read { try $0.get(store.tables.meta, StoreKey.text("a")) } == [1])
    }

    @Test func committedWritesSurviveReopening() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let store = try makeTestStore(in: dir)
            try await store.write { txn in try txn.put(store.tables.meta, StoreKey.text("durable"), [9]) }
            store.close()
        }
        let reopened = try makeTestStore(in: dir)
        defer { reopened.close() }
        #expect(try reopened.read { try $0.get(reopened.tables.meta, StoreKey.text("durable")) } == [9])
    }
}

/// The writer on a file system that fills up (a 2 MiB tmpfs; needs root, as CI has).
@Suite(.serialized) struct DiskFullWriterTests {
    @Test func aCommitWithNoDiskSpaceIsRefusedWholeAndTheNextOneAfterSpaceReturnsSucceeds() async throws {
        try #require(getuid() == 0, "this test mounts a tmpfs and needs root (CI runs as root)")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let mounted = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir.path])
        try #require(mounted.status == 0, "mount: \(mounted.stderr)")
        defer { _ = try? runProcess("/bin/umount", ["-l", dir.path]) }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let db = store.tables.meta
        try await store.write { txn in try txn.put(db, [1], Array(repeating: 1, count: 1000)) }
        let filled = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(dir.file("filler"))", "bs=4k"])
        #expect(filled.status != 0)

        // 256 KiB of new pages cannot be written: the whole batch is refused, nothing of it lands.
        let big = Array(repeating: UInt8(7), count: 4096)
        do {
            try await store.write { txn in for k in 0..<64 { try txn.put(db, [2, UInt8(k)], big) } }
            Issue.record("a commit on a full disk succeeded")
        } catch let error as StoreError {
            #expect(error.isDiskFull, "\(error)")
            #expect(error.isOutOfSpace)
        }
        #expect(store.writer.statistics.diskFull)
        #expect(store.writer.statistics.diskFullEpisodes == 1)
        #expect(store.writer.statistics.diskFullRefusals == 1)
        #expect(try store.read { txn in try txn.get(db, [1]) } == Array(repeating: 1, count: 1000))
        #expect(try store.read { txn in try txn.contains(db, [2, 0]) } == false)

        // Space returns: the same write commits, and the episode is over.
        try FileManager.default.removeItem(atPath: dir.file("filler"))
        try await store.write { txn in for k in 0..<64 { try txn.put(db, [2, UInt8(k)], big) } }
        #expect(!store.writer.statistics.diskFull)
        #expect(try store.read { txn in try (0..<64).allSatisfy { try txn.get(db, [2, UInt8($0)]) == big } })
    }
}
