#if canImport(Glibc)
internal import Glibc
#endif

/// A pthread readers-writer lock.
///
/// Written by hand because `Synchronization.Mutex` has no shared mode, and LMDB needs
/// exactly that: many readers at once, and map growth alone (`mdb_env_set_mapsize`
/// requires that no transaction of the process is active).
final class ReadersWriterLock: @unchecked Sendable {
    // @unchecked, and why that is safe: the only stored property is a `let` pointer to a
    // `pthread_rwlock_t`, which is itself the synchronisation primitive (its functions are
    // thread-safe by POSIX). It is heap-allocated once in init, so it never moves (a pthread
    // lock must not be copied or moved), and destroyed in deinit, when no thread holds it.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func lockRead() { pthread_rwlock_rdlock(lock) }
    func lockWrite() { pthread_rwlock_wrlock(lock) }
    func unlock() { pthread_rwlock_unlock(lock) }

    func withReadLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lockRead()
        defer { unlock() }
        return try body()
    }

    func withWriteLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lockWrite()
        defer { unlock() }
        return try body()
    }
}
