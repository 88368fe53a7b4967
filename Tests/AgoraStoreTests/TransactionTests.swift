import AgoraStore
import AgoraTestSupport
import Testing

@Suite struct TransactionTests {
    @Test func bigEndianKeysScanInNumericOrderAndPrefixScansStopAtThePrefix() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let numbers: [UInt64] = [300, 2, 1 << 40, 255, 256, 0]
        try await store.write { txn in
            for n in numbers { try txn.put(store.tables.meta, StoreKey.u64(n), []) }
            var a = StoreKey(); a.append(text: "s1"); a.append(UInt64(5))
            var b = StoreKey(); b.append(text: "s1"); b.append(UInt64(1))
            var c = StoreKey(); c.append(text: "s10"); c.append(UInt64(0))
            for key in [a.bytes, b.bytes, c.bytes] { try txn.put(store.tables.grants, key, []) }
        }
        let scanned: [UInt64] = try store.read { txn in
            var seen: [UInt64] = []
            try txn.scan(store.tables.meta) { key, _ in seen.append(StoreKey.readU64(key)!); return true }
            return seen
        }
        #expect(scanned == numbers.sorted())
        let prefixed: [UInt64] = try store.read { txn in
            var prefix = StoreKey(); prefix.append(text: "s1")
            var seen: [UInt64] = []
            try txn.scan(store.tables.grants, prefix: prefix.bytes) { key, _ in
                seen.append(StoreKey.readU64(key, at: prefix.bytes.count)!)
                return true
            }
            return seen
        }
        #expect(prefixed == [1, 5], "s10's key must not match the prefix of s1")
    }

    @Test func tableDiffFindsTheFirstDifferingKey() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        try await store.write { txn in
            for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
                try txn.put(store.tables.accounts, StoreKey.text(k), [UInt8(v)])
                try txn.put(store.tables.sensors, StoreKey.text(k), [UInt8(k == "b" ? 9 : v)])
                try txn.put(store.tables.purchases, StoreKey.text(k), [UInt8(v)])
            }
        }
        let (same, difference) = try store.read { txn in
            (try TableDiff.firstDifference(store.tables.accounts, in: txn, store.tables.purchases, in: txn),
             try TableDiff.firstDifference(store.tables.accounts, in: txn, store.tables.sensors, in: txn))
        }
        #expect(same == nil)
        #expect(difference?.key == Array("b".utf8))
    }
}
