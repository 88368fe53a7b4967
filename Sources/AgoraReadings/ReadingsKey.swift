internal import AgoraStore

/// Keys and values of the `readings` table.
///
/// Key: sensor index (u32 BE) ‖ time in ns (u64 BE) ‖ seq (u64 BE) — all of a sensor's
/// readings in time order, so a window is one range scan. `seq` (a store-wide counter that
/// never wraps in practice) keeps readings with the same timestamp apart, in arrival order.
/// Value: index of the `readings.commit` ledger entry that sealed it (u64 BE) ‖ the
/// reading's canonical bytes.
public enum ReadingsKey {
    static let seqCounter = StoreKey.text("readings.next_seq")

    public static func key(sensor: UInt32, time: Int64, seq: UInt64) -> [UInt8] {
        var key = StoreKey(capacity: 20)
        key.append(sensor)
        key.append(UInt64(bitPattern: time))
        key.append(seq)
        return key.bytes
    }

    /// The first key at or after `time` for `sensor`.
    public static func start(sensor: UInt32, time: Int64) -> [UInt8] { key(sensor: sensor, time: max(0, time), seq: 0) }

    static func sensor(of key: UnsafeRawBufferPointer) -> UInt32? {
        guard key.count == 20 else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(key[$1]) }
    }

    static func time(of key: UnsafeRawBufferPointer) -> Int64? {
        StoreKey.readU64(key, at: 4).map { Int64(bitPattern: $0) }
    }

    /// Key of `readings.commits`: the sensor, then the commit's ledger index.
    public static func commit(sensor: UInt32, commit: UInt64) -> [UInt8] {
        var key = StoreKey(capacity: 12)
        key.append(sensor)
        key.append(commit)
        return key.bytes
    }

    /// Value of `readings.commits`: the batch's first and last reading times.
    static func span(first: Int64, last: Int64) -> [UInt8] {
        StoreKey.u64(UInt64(bitPattern: first)) + StoreKey.u64(UInt64(bitPattern: last))
    }

    static func span(of value: [UInt8]) -> (first: Int64, last: Int64)? {
        guard value.count == 16, let first = StoreKey.readU64(value), let last = StoreKey.readU64(value, at: 8) else { return nil }
        return (Int64(bitPattern: first), Int64(bitPattern: last))
    }
}
