import AgoraCore
import Testing

@Suite struct CreditsTests {
    @Test func wholeNumbersParse() throws {
        #expect(try Credits(parsing: "1000").value == 1000)
        #expect(try Credits(parsing: "1000000000000000") == Credits.max)
    }

    @Test(arguments: ["-5", "1.5", "", "1e3", "+3", " 3", "99999999999999999999999", "1000000000000001"])
    func negativeFractionalAndOverflowingAmountsAreRefused(_ text: String) {
        #expect(throws: InvalidInput.self) { try Credits(parsing: text) }
    }

    @Test func arithmeticReportsOverflowAndOverdraftInsteadOfWrapping() throws {
        let big = Credits.max
        #expect(big.adding(try Credits(1)) == nil)
        #expect(try Credits(5).subtracting(try Credits(6)) == nil)
        #expect(try Credits(5).subtracting(try Credits(5)) == .zero)
        #expect(try Credits(10).multiplied(by: UInt64.max) == nil)
        #expect(try Credits(10).multiplied(by: 3) == (try Credits(30)))
    }
}

@Suite struct TimestampTests {
    @Test func rfc3339RoundTripsInUTC() throws {
        let time = try Timestamp(rfc3339: "2026-11-22T10:00:00Z")
        #expect(time.seconds == 1_795_341_600)
        #expect(time.rfc3339 == "2026-11-22T10:00:00Z")
    }

    @Test func offsetsAreNormalisedToUTC() throws {
        #expect(try Timestamp(rfc3339: "2026-11-22T12:00:00+02:00") == (try Timestamp(rfc3339: "2026-11-22T10:00:00Z")))
    }

    @Test(arguments: ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-22", "2026-11-22T10:00:00"])
    func malformedTimesAreRefused(_ text: String) {
        #expect(throws: InvalidInput.self) { try Timestamp(rfc3339: text) }
    }
}
