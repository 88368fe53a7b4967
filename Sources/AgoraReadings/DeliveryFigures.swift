public import AgoraCore
public import AgoraStore
public import AgoraMarket

/// How a sensor delivered over one window, measured from the readings the gateway stored:
/// the raw counts of M-Sec's reliability R′ ("an absolute indicator of the actor's
/// performance against its ideal operation"), which the gateway measures itself instead of
/// asking anyone. Times are the readings' own.
///
/// - `expected`: readings the declared frequency promises over the part of the window since
///   registration; `delivered`: distinct reading times in the window that reached the store
///   on time (a pack of pm25 and pm10 at one instant is one delivery); `late`: those that
///   did not (see `latenessLimit`);
/// - a gap is a silence longer than twice the declared period (between two deliveries, or
///   at either end of the window); `gapSeconds` is their total length;
/// - `checked`/`outOfRange`: numeric readings of the sensor's own kind (named `pm25`,
///   `…:pm25` or `…/pm25` for a pm25 sensor), and how many fell outside the kind's physical
///   range (`KindRanges`).
public struct DeliveryFigures: Hashable, Sendable {
    public var window: Int64
    public var expected: Int
    public var delivered: Int
    /// Readings that reached the store more than `latenessLimit` after their own time.
    public var late: Int
    public var gaps: Int
    public var longestGap: Int64
    public var gapSeconds: Int64
    public var checked: Int
    public var outOfRange: Int
    /// True when the walk stopped at its key budget: the counts are then a lower bound.
    public var truncated: Bool

    public init(window: Int64, expected: Int, delivered: Int, late: Int = 0, gaps: Int, longestGap: Int64, gapSeconds: Int64,
                checked: Int, outOfRange: Int, truncated: Bool = false) {
        self.window = window; self.expected = expected; self.delivered = delivered; self.late = late; self.gaps = gaps
        self.longestGap = longestGap; self.gapSeconds = gapSeconds; self.checked = checked; self.outOfRange = outOfRange
        self.truncated = truncated
    }

    /// delivered / expected, at most 1 (1 when nothing was expected yet).
    public var delivery: Double { expected > 0 ? min(1, Double(delivered) / Double(expected)) : 1 }
    /// The share of the observed time not lost in gaps.
    public var continuity: Double { window > 0 ? max(0, 1 - Double(gapSeconds) / Double(window)) : 1 }
    /// The share of checked readings within range (1 when none was checked).
    public var inRange: Double { checked > 0 ? Double(checked - outOfRange) / Double(checked) : 1 }

    /// R′ over this window, in [0, 1]: the mean of delivery and continuity (so readings lost
    /// in one long silence cost more than as many lost one by one), times the share in range.
    public var reliability: Double { (delivery + continuity) / 2 * inRange }

    /// The last segment of a SenML name (after `:` or `/`): the field a reading measures.
    static func field(of name: String) -> Substring {
        name.split(whereSeparator: { $0 == ":" || $0 == "/" }).last ?? Substring(name)
    }

    /// The sliding windows the gateway measures: an hour, a day, thirty days.
    public static let windows: [Int64] = [3_600, 86_400, 30 * 86_400]

    /// How late a reading may reach the store and still count as delivered: three periods,
    /// and at least five minutes (a broker queue, a reconnecting sensor). Later ones are
    /// counted as `late` and fill no gap, so an owner cannot raise R′ by backfilling
    /// readings dated in the past just before the gateway measures.
    public static func latenessLimit(period: Int64) -> Int64 { max(3 * period, 300) }

    /// Measures `sensor` over `[now − window, now)`, clipped to its registration. Walks the
    /// keys of that window, decoding only readings of the sensor's kind (for the range
    /// check), and at most `maxKeys` of them; when the budget ends the walk, the window ends
    /// at the last reading read (`truncated`), so the unread rest is not taken for a gap.
    ///
    /// - Parameter arrival: when the `readings.commit` with this ledger index was written
    ///   (seconds), i.e. when its readings reached the store; nil when unknown (counted on time).
    public static func measure(sensor: SensorRecord, window: Int64, now: Int64, ranges: KindRanges,
                               maxKeys: Int = 500_000, arrival: (UInt64) throws -> Int64?,
                               tables: Tables, in txn: ReadTransaction) throws -> DeliveryFigures {
        let period = Int64(sensor.registration.frequency)
        let start = max(now - window, sensor.registered.seconds)
        let range = ranges.range(of: sensor.registration.kind)
        let kind = Substring(sensor.registration.kind)
        let lateness = latenessLimit(period: period)
        var delivered = 0, late = 0, checked = 0, outOfRange = 0, seen = 0, gaps = 0
        var longest: Int64 = 0, gapTotal: Int64 = 0, truncated = false
        var last: Int64? = nil, lastLate: Int64? = nil, lastRead: Int64? = nil
        var arrivals: [UInt64: Int64?] = [:]
        let gapLimit = period > 0 ? 2 * period : Int64.max
        func silence(from: Int64, to: Int64) {
            let length = to - from
            guard length > gapLimit else { return }
            gaps += 1
            gapTotal += length
            longest = max(longest, length)
        }
        let end = now * 1_000_000_000
        try txn.scan(tables.readings, from: ReadingsKey.start(sensor: sensor.index, time: start * 1_000_000_000)) { key, value in
            guard ReadingsKey.sensor(of: key) == sensor.index, let time = ReadingsKey.time(of: key), time < end else { return false }
            guard seen < maxKeys else { truncated = true; return false }
            seen += 1
            let seconds = time / 1_000_000_000
            lastRead = seconds
            let commit = StoreKey.readU64(value) ?? 0
            let arrived = try arrivals[commit] ?? {
                let found = try arrival(commit)
                arrivals[commit] = found
                return found
            }()
            if let arrived, arrived - seconds > lateness {
                if time != lastLate { late += 1; lastLate = time }
            } else if time != last {
                silence(from: last.map { $0 / 1_000_000_000 } ?? start, to: seconds)
                delivered += 1
                last = time
            }
            if let range {
                let reading = try Reading(canonical: Array(value.dropFirst(8)))
                if Self.field(of: reading.name) == kind, case .number(let v) = reading.value {
                    checked += 1
                    if !range.contains(v) { outOfRange += 1 }
                }
            }
            return true
        }
        let windowEnd = truncated ? (lastRead ?? start) : now
        silence(from: last.map { $0 / 1_000_000_000 } ?? start, to: windowEnd)
        let observed = max(0, windowEnd - start)
        return DeliveryFigures(window: observed, expected: period > 0 ? Int(observed / period) : 0, delivered: delivered, late: late,
                               gaps: gaps, longestGap: longest, gapSeconds: min(gapTotal, observed), checked: checked,
                               outOfRange: outOfRange, truncated: truncated)
    }

    /// Whether `sensor` can be measured at `now`: not frozen, a declared frequency, and
    /// registered at least two periods ago (before that nothing could be missed, and an
    /// R′ of 1 would mean nothing).
    public static func isMeasurable(_ sensor: SensorRecord, now: Int64) -> Bool {
        let period = Int64(sensor.registration.frequency)
        return !sensor.frozen && period > 0 && now - sensor.registered.seconds >= 2 * period
    }

    /// The row a `reliability` entry keeps for this window (see `LedgerEntry.Reliability`).
    public var row: [Int64] {
        [window, Int64(expected), Int64(delivered), Int64(gaps), longestGap, gapSeconds, Int64(checked), Int64(outOfRange),
         Int64(late), truncated ? 1 : 0]
    }
}
