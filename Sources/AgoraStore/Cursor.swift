internal import CLMDB

/// An LMDB cursor over one database, closed when it goes out of scope.
///
/// Lives only as long as the transaction that opened it; the key and value buffers it
/// returns are valid only until the cursor moves or the transaction ends. For long
/// sequential reads (`ledger verify`), where a closure per row costs more than the row.
public final class Cursor {
    private let handle: OpaquePointer
    private let database: Database

    public init(transaction: ReadTransaction, database: Database) throws(StoreError) {
        var cursor: OpaquePointer?
        do { try LMDBError.check(mdb_cursor_open(transaction.handle, database.dbi, &cursor), "cursor_open \(database)") } catch { throw .lmdb(error) }
        self.handle = cursor!
        self.database = database
    }

    deinit { mdb_cursor_close(handle) }

    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    public func first() throws(StoreError) -> Entry? { try get(MDB_FIRST) }
    public func last() throws(StoreError) -> Entry? { try get(MDB_LAST) }
    public func next() throws(StoreError) -> Entry? { try get(MDB_NEXT) }
    public func previous() throws(StoreError) -> Entry? { try get(MDB_PREV) }

    /// Moves to the first key ≥ `key`.
    public func seek(atLeast key: [UInt8]) throws(StoreError) -> Entry? {
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
