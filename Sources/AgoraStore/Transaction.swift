internal import CLMDB

/// A read-only view of the store, valid only inside the closure that received it.
///
/// Not `Sendable` and never stored: LMDB transactions belong to the code that opened
/// them and must end before the next suspension point. Values are copied out of the map.
public class ReadTransaction {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    /// The value under `key`, or nil.
    public func get(_ db: Database, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        var result: [UInt8]?
        try withValue(db, key) { result = $0.map { Array($0) } }
        return result
    }

    /// Calls `body` with the value under `key` in place (nil when absent); the buffer is
    /// valid only during the call.
    public func withValue<T>(_ db: Database, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws(StoreError) -> T) throws(StoreError) -> T {
        var value = MDB_val()
        let code = key.withUnsafeBytes { raw in
            var k = clmdb_val(raw.baseAddress, raw.count)
            return mdb_get(handle, db.dbi, &k, &value)
        }
        if code == MDB_NOTFOUND { return try body(nil) }
        do { try LMDBError.check(code, "get \(db)") } catch { throw .lmdb(error) }
        return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    public func contains(_ db: Database, _ key: [UInt8]) throws(StoreError) -> Bool {
        try withValue(db, key) { $0 != nil }
    }

    /// Number of entries in `db`.
    public func count(_ db: Database) throws(StoreError) -> Int {
        var stat = MDB_stat()
        do { try LMDBError.check(mdb_stat(handle, db.dbi, &stat), "stat \(db)") } catch { throw .lmdb(error) }
        return stat.ms_entries
    }

    /// Bytes of the pages `db` occupies (branch, leaf and overflow pages).
    public func pageBytes(_ db: Database) throws(StoreError) -> Int {
        var stat = MDB_stat()
        do { try LMDBError.check(mdb_stat(handle, db.dbi, &stat), "stat \(db)") } catch { throw .lmdb(error) }
        return (stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages) * Int(stat.ms_psize)
    }

    /// Visits entries in key order (errors thrown by `body` pass through unchanged), starting at the first key ≥ `start` (or the first key),
    /// until `body` returns false. Key and value buffers are valid only during each call.
    public func scan(
        _ db: Database, from start: [UInt8]? = nil,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let cursor = try Cursor(transaction: self, database: db)
        var entry: Cursor.Entry?
        if let start { entry = try cursor.seek(atLeast: start) } else { entry = try cursor.first() }
        while let (key, value) = entry {
            guard try body(key, value) else { return }
            entry = try cursor.next()
        }
    }

    /// Visits entries whose key starts with `prefix`, in key order.
    public func scan(
        _ db: Database, prefix: [UInt8],
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try scan(db, from: prefix) { key, value in
            guard key.count >= prefix.count, key.prefix(prefix.count).elementsEqual(prefix) else { return false }
            return try body(key, value)
        }
    }

    /// Visits entries in reverse key order from the last, until `body` returns false.
    /// Key and value buffers are valid only during each call.
    public func scanReverse(
        _ db: Database, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let cursor = try Cursor(transaction: self, database: db)
        var entry = try cursor.last()
        while let (key, value) = entry {
            guard try body(key, value) else { return }
            entry = try cursor.previous()
        }
    }

    /// Visits entries in reverse key order from the first key ≥ `start` (the last key when
    /// none is), until `body` returns false.
    public func scanReverse(
        _ db: Database, from start: [UInt8], _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let cursor = try Cursor(transaction: self, database: db)
        var entry = try cursor.seek(atLeast: start)
        if entry == nil { entry = try cursor.last() }
        while let (key, value) = entry {
            guard try body(key, value) else { return }
            entry = try cursor.previous()
        }
    }

    /// The last key and value of `db`, if any.
    public func last(_ db: Database) throws(StoreError) -> (key: [UInt8], value: [UInt8])? {
        let cursor = try Cursor(transaction: self, database: db)
        return try cursor.last().map { (Array($0.0), Array($0.1)) }
    }
}

/// A read-write transaction. Only the `GroupCommitWriter` creates these, one request at a time.
public final class WriteTransaction: ReadTransaction {
    /// Puts, deletes and drops so far; the writer uses it to tell whether a failed request
    /// left writes behind that must be rolled back.
    private(set) var writeCount = 0

    public struct PutFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The key sorts after every existing key (sequential logs): LMDB skips the search.
        public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
        /// Fail with `keyExists` instead of replacing.
        public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    }

    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], flags: PutFlags = []) throws(StoreError) {
        writeCount += 1
        let code = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = clmdb_val(k.baseAddress, k.count)
                var vv = clmdb_val(v.baseAddress, v.count)
                return mdb_put(handle, db.dbi, &kv, &vv, flags.rawValue)
            }
        }
        do { try LMDBError.check(code, "put \(db)") } catch { throw .lmdb(error) }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws(StoreError) -> Bool {
        writeCount += 1
        let code = key.withUnsafeBytes { k in
            var kv = clmdb_val(k.baseAddress, k.count)
            return mdb_del(handle, db.dbi, &kv, nil)
        }
        if code == MDB_NOTFOUND { return false }
        do { try LMDBError.check(code, "del \(db)") } catch { throw .lmdb(error) }
        return true
    }

    /// Removes every entry of `db` (used by replay's scratch store).
    public func drop(_ db: Database) throws(StoreError) {
        writeCount += 1
        do { try LMDBError.check(mdb_drop(handle, db.dbi, 0), "drop \(db)") } catch { throw .lmdb(error) }
    }
}

@available(*, unavailable)
extension ReadTransaction: Sendable {}
