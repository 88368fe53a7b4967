public import AgoraCore
public import AgoraStore

/// How much a sensor delivered and when, read from the readings table's keys alone (a
/// key holds the reading's time; nothing is decoded but the newest reading): for the
/// metrics' "last reading" and the dashboard's charts. Times are the readings' own
/// (nanoseconds since the epoch), so a chart shows when readings were taken, and it
/// survives restarts.
public enum ReadingsActivity {
    /// The newest reading of the sensor numbered `sensor` (its `SensorRecord.index`).
    public static func newest(sensor: UInt32, tables: Tables, in txn: ReadTransaction) throws -> Reading? {
        try newestEntry(sensor: sensor, tables: tables, in: txn) { _, value in try Reading(canonical: Array(value.dropFirst(8))) }
    }

    /// The time of that reading, from its key alone.
    public static func newestTime(sensor: UInt32, tables: Tables, in txn: ReadTransaction) throws -> Int64? {
        try newestEntry(sensor: sensor, tables: tables, in: txn) { key, _ in ReadingsKey.time(of: key) } ?? nil
    }

    private static func newestEntry<T>(sensor: UInt32, tables: Tables, in txn: ReadTransaction,
                                       _ read: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> T) throws -> T? {
        let cursor = try Cursor(transaction: txn, database: tables.readings)
        // The first key past this sensor, then one step back into its readings.
        let entry = try cursor.seek(atLeast: ReadingsKey.key(sensor: sensor &+ 1, time: 0, seq: 0)) != nil ? try cursor.previous() : try cursor.last()
        guard let (key, value) = entry, ReadingsKey.sensor(of: key) == sensor else { return nil }
        return try read(key, value)
    }

    /// Readings of `sensor` per bucket: `buckets` buckets of `width` ns, the first starting
    /// at `start`. Walks the keys of that window only, and at most `maxKeys` of them, so
    /// a sensor that floods costs a bounded read (its buckets are then a lower bound).
    public static func counts(sensor: UInt32, start: Int64, width: Int64, buckets: Int, maxKeys: Int = 200_000,
                              tables: Tables, in txn: ReadTransaction) throws -> [Int] {
        try walk(sensor: sensor, start: start, width: width, buckets: buckets, maxKeys: maxKeys, include: nil, tables: tables, in: txn).counts
    }

    /// Counts per bucket as `counts` does, of the readings `include` admits (all when nil),
    /// and the newest of those within the window, decoded: what a dashboard row shows.
    public static func activity(sensor: UInt32, start: Int64, width: Int64, buckets: Int, maxKeys: Int = 200_000,
                                include: ((Int64) -> Bool)?, tables: Tables,
                                in txn: ReadTransaction) throws -> (counts: [Int], newest: Reading?) {
        let (counts, newestKey) = try walk(sensor: sensor, start: start, width: width, buckets: buckets, maxKeys: maxKeys,
                                           include: include, tables: tables, in: txn)
        // Only the newest admitted reading is decoded, looked up by its key once the walk is done.
        let newest = try newestKey.flatMap { try txn.get(tables.readings, $0) }.map { try Reading(canonical: Array($0.dropFirst(8))) }
        return (counts, newest)
    }

    /// The walk both share: bucket counts, and the key of the newest reading counted.
    private static func walk(sensor: UInt32, start: Int64, width: Int64, buckets: Int, maxKeys: Int,
                             include: ((Int64) -> Bool)?, tables: Tables,
                             in txn: ReadTransaction) throws -> (counts: [Int], newestKey: [UInt8]?) {
        var counts = [Int](repeating: 0, count: buckets)
        let end = start + width * Int64(buckets)
        var seen = 0
        var newestKey: [UInt8]?
        try txn.scan(tables.readings, from: ReadingsKey.start(sensor: sensor, time: start)) { key, _ in
            guard ReadingsKey.sensor(of: key) == sensor, let time = ReadingsKey.time(of: key), time < end, seen < maxKeys else { return false }
            seen += 1
            guard time >= start, include?(time) ?? true else { return true }
            counts[Int((time - start) / width)] += 1
            newestKey = Array(key)
            return true
        }
        return (counts, newestKey)
    }
}
