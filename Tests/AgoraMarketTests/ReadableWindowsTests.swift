import AgoraMarket
import Testing

/// Live delivery's form of the access rule: which reading times a subscriber may receive, and
/// whether a subscription still has anything to come.
@Suite struct ReadableWindowsTests {
    let second: Int64 = 1_000_000_000

    @Test func aBuyerReceivesReadingsInsideItsWindowsOnlyWithTheEndExcluded() {
        let windows = ReadableWindows.windows([100..<200, 300..<400])
        #expect(!windows.allows(nanoseconds: 99 * second + 999_999_999))
        #expect(windows.allows(nanoseconds: 100 * second))
        #expect(windows.allows(nanoseconds: 199 * second + 999_999_999))
        #expect(!windows.allows(nanoseconds: 200 * second))
        #expect(!windows.allows(nanoseconds: 250 * second))
        #expect(windows.allows(nanoseconds: 300 * second))
        // Times before 1970 round down to their second, not towards zero.
        #expect(!ReadableWindows.windows([0..<1]).allows(nanoseconds: -1))
        #expect(ReadableWindows.windows([-1..<0]).allows(nanoseconds: -1))
    }

    @Test func aSubscriptionHasAFutureWhileAWindowHasNotEnded() {
        let windows = ReadableWindows.windows([100..<200])
        #expect(windows.hasFuture(after: 50))
        #expect(windows.hasFuture(after: 199))
        #expect(!windows.hasFuture(after: 200))
        #expect(!ReadableWindows.windows([]).hasFuture(after: 0))
        #expect(ReadableWindows.all.hasFuture(after: .max))
        #expect(ReadableWindows.all.allows(nanoseconds: .min))
    }
}
