import AgoraCore
import AgoraMarket
import AgoraReadings
import Testing

/// The gateway's measure of delivery (issue 23's reliability R′), on readings committed to a
/// real store: on time, late (backfilled), cut short by the read budget.
@Suite struct DeliveryFiguresTests {
    /// A minute of one-a-second pm25 readings of sensor `a` (declared every second), the
    /// first one second after its registration, and the sensor's record.
    func minute(_ f: ReadingsFixture, values: (Int) -> Double = { _ in 12.5 }) async throws -> (SensorRecord, Int64) {
        let sensor = try #require(try f.market.read { try $0.sensor(f.a) })
        let registered = sensor.registered.seconds
        let readings = (1...60).map { Reading(name: "pm25", time: (registered + Int64($0)) * 1_000_000_000, value: .number(values($0))) }
        _ = try await ReadingsCommitter(store: f.store, ledger: f.ledger).commit([f.a: readings])
        return (sensor, registered)
    }

    func measure(_ f: ReadingsFixture, _ sensor: SensorRecord, now: Int64, maxKeys: Int = 500_000,
                 arrival: @escaping (UInt64) throws -> Int64? = { _ in nil }) throws -> DeliveryFigures {
        try f.store.read { txn in
            try DeliveryFigures.measure(sensor: sensor, window: 3600, now: now, ranges: .defaults, maxKeys: maxKeys, arrival: arrival,
                                        tables: f.store.tables, in: txn)
        }
    }

    @Test func readingsThatArriveOnTimeAreDeliveredWithoutGaps() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let (sensor, registered) = try await minute(f, values: { $0 % 10 == 0 ? 5_000 : 12.5 })
        let figures = try measure(f, sensor, now: registered + 61)
        #expect(figures.window == 61 && figures.expected == 61 && figures.delivered == 60 && figures.late == 0)
        #expect(figures.gaps == 0 && figures.checked == 60 && figures.outOfRange == 6 && !figures.truncated)
        #expect(abs(figures.reliability - (60.0 / 61 + 1) / 2 * 0.9) < 1e-12)
    }

    @Test func readingsBackfilledLongAfterTheirTimeAreLateAndFillNoGap() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let (sensor, registered) = try await minute(f)
        // Every commit reached the store 20 minutes after the readings' own times.
        let figures = try measure(f, sensor, now: registered + 61, arrival: { _ in registered + 1_260 })
        #expect(figures.delivered == 0 && figures.late == 60)
        #expect(figures.gaps == 1 && figures.longestGap == 61 && figures.reliability == 0)
        // Within the lateness limit (five minutes here) they count.
        let buffered = try measure(f, sensor, now: registered + 61, arrival: { _ in registered + 290 })
        #expect(buffered.delivered == 60 && buffered.late == 0)
    }

    @Test func aWalkStoppedByItsBudgetEndsTheWindowAtTheLastReadingRead() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let (sensor, registered) = try await minute(f)
        let figures = try measure(f, sensor, now: registered + 3_000, maxKeys: 30)
        #expect(figures.truncated && figures.delivered == 30 && figures.window == 30 && figures.gaps == 0, "\(figures)")
        #expect(figures.row.count == 10 && figures.row[9] == 1)
    }

    @Test func onlyAFrozenOrUndeclaredOrJustRegisteredSensorIsNotMeasured() async throws {
        let f = try await ReadingsFixture()
        defer { f.close() }
        let (sensor, registered) = try await minute(f)
        #expect(!DeliveryFigures.isMeasurable(sensor, now: registered + 1))
        #expect(DeliveryFigures.isMeasurable(sensor, now: registered + 2))
        var frozen = sensor
        frozen.frozen = true
        #expect(!DeliveryFigures.isMeasurable(frozen, now: registered + 60))
        var undeclared = sensor
        undeclared.registration.frequency = 0
        #expect(!DeliveryFigures.isMeasurable(undeclared, now: registered + 60))
    }
}
