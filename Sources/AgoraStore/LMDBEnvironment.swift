internal import CLMDB
#if canImport(Glibc)
internal import Glibc
#endif

/// Owns one LMDB environment (`MDB_env`): the memory map over one data file.
///
/// LMDB allows one environment per file per process, so Agora opens exactly one and
/// shares it. Read transactions run from any thread (`MDB_NOTLS`); write transactions
/// come only from the `GroupCommitWriter`'s thread, except the one `openDatabase` runs per
/// table while the store opens, before the writer exists. Growing the map needs every
/// transaction of this process to be finished, so readers hold `mapLock` shared and
/// growth takes it exclusively.
public final class LMDBEnvironment: @unchecked Sendable {
    // @unchecked, and why that is safe: `handle`, `path` and `maxMapSize` are `let`s;
    // the environment behind `handle` is shared by design (LMDB's environment calls are
    // thread-safe, and with MDB_NOTLS a read transaction may be used from any one thread
    // at a time; each stays inside one synchronous `read` closure). The one mutable
    // property, `mapSize`, is written only inside `mapLock.withWriteLock` (`grow`,
    // `adoptResizedMap`) and read under the same lock (shared in `currentMapSize`,
    // exclusive in `grow`), apart from `init`, before the object is shared.
    let handle: OpaquePointer
    let mapLock = ReadersWriterLock()
    public let path: String
    public let maxMapSize: Int
    private(set) var mapSize: Int

    public struct Options: Sendable {
        /// Initial size of the memory map in bytes.
        public var mapSize: Int
        /// The map never grows past this size; at the ceiling, writes fail with "store full".
        public var maxMapSize: Int
        public var maxDatabases: UInt32
        public var maxReaders: UInt32
        public init(mapSize: Int = 1 << 30, maxMapSize: Int = 16 << 30, maxDatabases: UInt32 = 32, maxReaders: UInt32 = 256) {
            self.mapSize = mapSize
            self.maxMapSize = max(maxMapSize, mapSize)
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
        }
    }

    /// Opens (creating if needed) the data file at `path` (`MDB_NOSUBDIR`: the lock file is `path-lock`).
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "env_create")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "env_create") }
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(env, options.maxReaders), "set_maxreaders")
            try LMDBError.check(mdb_env_set_mapsize(env, options.mapSize), "set_mapsize")
            // MDB_NOTLS: read transactions are not bound to threads (Swift tasks hop threads).
            // Full sync on commit: an acknowledged write survives power loss.
            try LMDBError.check(mdb_env_open(env, path, UInt32(MDB_NOSUBDIR | MDB_NOTLS), 0o600), "open \(path)")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.maxMapSize = options.maxMapSize
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        // An existing file may already be larger than the configured initial size.
        self.mapSize = max(options.mapSize, info.me_mapsize)
    }

    deinit {
        mdb_env_close(handle)
    }

    /// Bytes of the map in use (last page number × page size).
    public var usedBytes: Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(handle, &info)
        mdb_env_stat(handle, &stat)
        return (info.me_last_pgno + 1) * Int(stat.ms_psize)
    }

    public var currentMapSize: Int { mapLock.withReadLock { mapSize } }

    /// Doubles the map (up to `maxMapSize`). Waits until no transaction of this process is open.
    /// Returns false when the map is already at its ceiling.
    func grow() throws(LMDBError) -> Bool {
        try mapLock.withWriteLock { () throws(LMDBError) -> Bool in
            guard mapSize < maxMapSize else { return false }
            let newSize = min(maxMapSize, mapSize * 2)
            try LMDBError.check(mdb_env_set_mapsize(handle, newSize), "set_mapsize \(newSize)")
            mapSize = newSize
            return true
        }
    }

    /// Opens (creating) the named database. Call once per name at start-up; the handle
    /// stays valid for the life of the environment.
    public func openDatabase(named name: String) throws(LMDBError) -> Database {
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(handle, nil, 0, &txn), "txn_begin for dbi_open")
        var dbi = MDB_dbi()
        let code = mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
        guard code == MDB_SUCCESS else {
            mdb_txn_abort(txn)
            throw LMDBError(code: code, operation: "dbi_open \(name)")
        }
        try LMDBError.check(mdb_txn_commit(txn), "commit dbi_open \(name)")
        return Database(name: name, dbi: dbi)
    }

    /// Runs `body` in a read-only transaction that ends when `body` returns.
    ///
    /// The closure is synchronous on purpose: a transaction must not outlive an `await`.
    /// Errors thrown by `body` pass through unchanged.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        var txn: OpaquePointer?
        var adopted = false
        while true {
            mapLock.lockRead()
            let code = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
            if code == MDB_SUCCESS { break }
            mapLock.unlock()
            if code == MDB_MAP_RESIZED, !adopted {
                adopted = true
                do { try adoptResizedMap() } catch { throw StoreError.lmdb(error) }
                continue
            }
            throw StoreError.lmdb(LMDBError(code: code, operation: "txn_begin (read)"))
        }
        defer {
            mdb_txn_abort(txn)
            mapLock.unlock()
        }
        return try body(ReadTransaction(handle: txn!))
    }

    /// Another process (another `agora` command) grew the map past ours: adopt its size.
    /// LMDB reports this as `MDB_MAP_RESIZED`; `mdb_env_set_mapsize(0)` needs every
    /// transaction of this process to be finished, hence the exclusive lock.
    func adoptResizedMap() throws(LMDBError) {
        try mapLock.withWriteLock { () throws(LMDBError) in
            try LMDBError.check(mdb_env_set_mapsize(handle, 0), "set_mapsize (adopt)")
            var info = MDB_envinfo()
            mdb_env_info(handle, &info)
            mapSize = info.me_mapsize
        }
    }
}

/// A named database inside the environment (an LMDB `MDB_dbi`).
public struct Database: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    let dbi: MDB_dbi
    public var description: String { name }
}
