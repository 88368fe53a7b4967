internal import Synchronization

/// Remembers decoded table rows by their exact bytes, so the hot paths (every purchase
/// reads a sensor and an account) skip JSON decoding of rows that have not changed.
///
/// Keyed by content, not by table key: a row that changes, or a transaction that rolls
/// back, can never serve a stale value — different bytes are simply a miss. Bounded:
/// when full it starts over, which keeps it simple and its memory flat.
final class DecodedRowCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[RowBytes: Value]>([:])
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func value(for bytes: [UInt8], decode: ([UInt8]) throws -> Value) throws -> Value {
        let key = RowBytes(bytes: bytes)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let value = try decode(bytes)
        entries.withLock { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[key] = value
        }
        return value
    }
}

/// Row bytes as a dictionary key, hashed in one call rather than byte by byte.
private struct RowBytes: Hashable, Sendable {
    let bytes: [UInt8]
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}
