/// Why a store operation failed. Equality is by kind and message.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case lmdb(code: Int32)
        case storeFull
        case diskFull
        case corrupted
        case writerStopped
        case inner
    }

    let kind: Kind
    public let message: String
    /// The error a write or read closure threw, when that is what failed.
    public let underlying: (any Error & Sendable)?

    public static func lmdb(_ error: LMDBError) -> StoreError {
        StoreError(kind: .lmdb(code: error.code), message: error.description, underlying: nil)
    }

    /// The map reached its configured ceiling (`store.max_map_size`); nothing was written.
    public static func storeFull(mapSize: Int) -> StoreError {
        StoreError(kind: .storeFull, message: "store is full: the map reached its ceiling of \(mapSize) bytes; nothing was written", underlying: nil)
    }

    /// The file system holding the store has no space left (`ENOSPC`, `EDQUOT`); the batch
    /// was rolled back whole. Writes succeed again by themselves once space returns.
    public static func diskFull(_ operation: String) -> StoreError {
        StoreError(kind: .diskFull, message: "the disk holding the store is full (\(operation)); nothing was written", underlying: nil)
    }

    public static func corrupted(_ what: String) -> StoreError {
        StoreError(kind: .corrupted, message: "store is corrupted: \(what)", underlying: nil)
    }

    public static let writerStopped = StoreError(kind: .writerStopped, message: "the store is closing; nothing was written", underlying: nil)

    /// Wraps an error thrown by a caller's closure, so callers can recover it with `underlying`.
    public static func inner(_ error: any Error) -> StoreError {
        if let store = error as? StoreError { return store }
        return StoreError(kind: .inner, message: String(describing: error), underlying: error)
    }

    public var isStoreFull: Bool { kind == .storeFull }
    public var isDiskFull: Bool { kind == .diskFull }
    /// The store refuses writes for want of space (its map ceiling or the disk), not because
    /// of the request: the same write may succeed later.
    public var isOutOfSpace: Bool { kind == .storeFull || kind == .diskFull }
    public var isMapFull: Bool { if case .lmdb(let code) = kind { return LMDBError(code: code, operation: "").isMapFull }; return false }

    public var description: String { message }
}
