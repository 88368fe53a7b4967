import AgoraReadings
import Testing

@Suite struct KindRangesTests {
    @Test func configuredRangesAddToAndReplaceTheBuiltInOnes() throws {
        let ranges = try #require(KindRanges.defaults.overriding(with: "pm25=0..500, vibration=-2.5..2.5"))
        #expect(ranges.range(of: "pm25") == 0...500)
        #expect(ranges.range(of: "vibration") == -2.5...2.5)
        #expect(ranges.range(of: "temperature") == -60...70)
        #expect(ranges.range(of: "unheard-of") == nil)
    }

    @Test func malformedRangesAreRefused() {
        for bad in ["pm25", "pm25=", "pm25=5..1", "=0..1", "pm25=a..b", "pm25=0...", "pm25=0-10"] {
            #expect(KindRanges.defaults.overriding(with: bad) == nil, "\(bad)")
        }
    }
}
