import AgoraCore
import Testing

@Suite struct ReadingSaltTests {
    static let tricky: [Reading] = [
        Reading(name: "pm25", time: 1_795_341_600_000_000_000, unit: "ug/m3", value: .number(21.5)),
        Reading(name: "a", time: 0, value: .string(#",\"salt\":\"00112233445566778899aabbccddeeff\""#)),
        Reading(name: "b", time: -1, value: .string(#"x","salt":"y"#), sum: 2),
        Reading(name: "c\\", time: 5, unit: "\"", value: .data("AAEC")),
        Reading(name: "d", time: 7, value: .boolean(true), sum: 1e-06),
    ]

    @Test(arguments: tricky)
    func aSaltedRecordReadsBackAsTheSameReadingAndStripsToTheUnsaltedBytes(_ reading: Reading) throws {
        let salt = Salt.random()
        let salted = reading.canonicalBytes(salt: salt)
        #expect(salted != reading.canonicalBytes())
        #expect(try Reading(canonical: salted) == reading)
        #expect(try Reading.salt(ofCanonical: salted) == salt)
        #expect(Reading.unsalted(canonical: salted) == reading.canonicalBytes())
        // Records written before salts pass through unchanged.
        #expect(Reading.unsalted(canonical: reading.canonicalBytes()) == reading.canonicalBytes())
        #expect(try Reading.salt(ofCanonical: reading.canonicalBytes()) == nil)
    }

    @Test func aRecordWithAMalformedSaltIsRefused() {
        for salt in [#""abc""#, #""00112233445566778899AABBCCDDEEFF""#, "7"] {
            let bytes = Array(#"{"n":"a","salt":\#(salt),"t":1,"v":1.0}"#.utf8)
            #expect(throws: EntryCodingError.self, "\(salt)") { try Reading(canonical: bytes) }
        }
    }
}
