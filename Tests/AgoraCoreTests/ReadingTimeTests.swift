import AgoraCore
import Testing

struct ReadingTimeTests {
    /// Nanoseconds since 1970 fit in 64 bits from 1677 to 2262; later times must be refused,
    /// not overflow (an overflow stops the whole server).
    @Test func timesBeyondTheNanosecondRangeAreRefusedNotOverflowed() throws {
        #expect(throws: InvalidInput.self) { try Reading.parseTime("2300-01-01T00:00:00Z") }
        #expect(throws: InvalidInput.self) { try Reading.parseTime("9999-12-31T23:59:59.999999999Z") }
        #expect(throws: InvalidInput.self) { try Reading.parseTime("2262-04-11T23:47:16.854775808Z") }
        #expect(try Reading.parseTime("2262-04-11T23:47:16.854775807Z") == Int64.max)
        #expect(try Reading.parseTime("2026-11-22T08:00:00.5Z") == 1_795_334_400_500_000_000)
    }
}
