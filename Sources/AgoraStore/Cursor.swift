internal import CLMDB

/// An LMDB cursor over one database, closed when it goes out of scope.
/// Lives only as long as the transaction that opened it.
final class Cursor {
    private let handle: OpaquePointer
    private let database: Database

    init(transaction: ReadTransaction, database: Database) throws(StoreError) {
        var cursor: OpaquePointer?
        do { try LMDBError.check(mdb_cursor_open(transaction.handle, database.dbi, &cursor), "cursor_open \(database)") } catch { throw .lmdb(error) }
        self.handle = cursor!
        self.database = database
    }

    deinit { mdb_cursor_close(handle) }

    typealias Entry = (UnsafeRawBufferPointer, UnsafeRawBufferPointer)

    func first() throws(StoreError) -> Entry? { try get(MDB_FIRST) }
    func last() throws(StoreError) -> Entry? { try get(MDB_LAST) }
    func next() throws(StoreError) -> Entry? { try get(MDB_NEXT) }

    func seek(atLeast key: [UInt8]) throws(StoreError) -> Entry? {
        var k = MDB_val()
        var v = MDB_val()
        let code = key.withUnsafeBytes { raw in
            k = clmdb_val(raw.baseAddress, raw.count)
            return mdb_cursor_get(handle, &k, &v, MDB_SET_RANGE)
        }
        return try entry(code, k, v)
    }

    private func get(_ op: MDB_cursor_op) throws(StoreError) -> Entry? {
        var k = MDB_val()
        var v = MDB_val()
        let code = mdb_cursor_get(handle, &k, &v, op)
        return try entry(code, k, v)
    }

    private func entry(_ code: Int32, _ k: MDB_val, _ v: MDB_val) throws(StoreError) -> Entry? {
        if code == MDB_NOTFOUND { return nil }
        do { try LMDBError.check(code, "cursor_get \(database)") } catch { throw .lmdb(error) }
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }
}
