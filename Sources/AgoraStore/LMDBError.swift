internal import CLMDB

/// A failure reported by liblmdb, with its return code and liblmdb's own explanation.
///
/// Only `LMDBEnvironment`, `ReadTransaction`, `WriteTransaction` and `Cursor` turn
/// return codes into this error; nothing else in Agora looks at a raw LMDB code.
public struct LMDBError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The memory map is full: the writer grows it and retries.
    public var isMapFull: Bool { code == MDB_MAP_FULL }

    public var description: String {
        let message = mdb_strerror(code).map { String(cString: $0) } ?? "error \(code)"
        return "LMDB \(operation) failed: \(message)"
    }

    /// Throws unless `code` is `MDB_SUCCESS`.
    @inline(__always)
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
        guard code == MDB_SUCCESS else { throw LMDBError(code: code, operation: operation()) }
    }
}
