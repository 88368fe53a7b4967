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
}
