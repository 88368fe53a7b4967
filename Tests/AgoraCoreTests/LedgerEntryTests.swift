import AgoraCore
import Foundation
import Testing

@Suite struct LedgerEntryTests {
    let time = try! Timestamp(rfc3339: "2026-11-22T10:00:00Z")

    @Test func encodingIsCompactWithSortedKeysAndCommonFields() throws {
        let salt = try #require(Salt(hex: "000102030405060708090a0b0c0d0e0f"))
        let entry = LedgerEntry(time: time, actor: .operator,
                                body: .creditMint(.init(to: try BareJID("bob@gw1.example"), amount: try Credits(100), memo: "a/b")), salt: salt)
        let text = String(decoding: try entry.encoded(), as: UTF8.self)
        #expect(text == #"{"actor":"operator","amount":100,"memo":"a/b","salt":"000102030405060708090a0b0c0d0e0f","time":"2026-11-22T10:00:00Z","to":"bob@gw1.example","type":"credit.mint","v":2}"#)
        // The same entry without a salt is the version-1 form older stores hold.
        let old = LedgerEntry(time: time, actor: .operator,
                              body: .creditMint(.init(to: try BareJID("bob@gw1.example"), amount: try Credits(100), memo: "a/b")), salt: nil)
        #expect(String(decoding: try old.encoded(), as: UTF8.self)
                == #"{"actor":"operator","amount":100,"memo":"a/b","time":"2026-11-22T10:00:00Z","to":"bob@gw1.example","type":"credit.mint","v":1}"#)
    }

    @Test func everyEntryTypeRoundTripsToTheSameBytes() throws {
        let bob = try BareJID("bob@gw1.example")
        let alice = try BareJID("alice@gw1.example")
        let sensor = try SensorID("temp-1")
        let bodies: [LedgerEntry.Body] = [
            .genesis(.init(origin: "gw1.example/agora", name: "GW", logKey: "k", checkpointInterval: 1000)),
            .accountOpen(.init(jid: bob, role: .consumer)),
            .accountRole(.init(jid: bob, role: .owner)),
            .creditMint(.init(to: bob, amount: try Credits(5), memo: "")),
            .creditTransfer(.init(from: bob, to: alice, amount: try Credits(2))),
            .sensorRegister(.init(sensor: sensor, owner: alice, kind: "temperature", name: "Quai", unit: "Cel", price: try Credits(3),
                                  frequency: 60, lat: try .latitude(48.856613), lon: try .longitude(2.352222), url: "https://x.example/a")),
            .sensorUpdate(.init(sensor: sensor, price: try Credits(4))),
            .sensorFreeze(.init(sensor: sensor, reason: "broken")),
            .sensorUnfreeze(.init(sensor: sensor, reason: "")),
            .purchase(.init(id: "p1", buyer: bob, sensor: sensor, from: time, to: try Timestamp(seconds: time.seconds + 3600),
                            amount: try Credits(3), request: "r1")),
            .certIssue(.init(serial: "7f01", subject: "sensor:temp-1", fingerprint: "ab", notAfter: time, certificate: "MAA=")),
            .certRevoke(.init(serial: "7f01", reason: "keyCompromise")),
            .caAdopt(.init(fingerprint: "ab", certificate: "MAA=")),
            .readingsCommit(.init(sensor: sensor, first: "2026-11-22T10:00:00.000000001Z", last: "2026-11-22T10:00:01.000000000Z", count: 2, root: "AA==")),
            .rating(.init(purchase: "p1", rater: bob, sensor: sensor, owner: alice, satisfaction: 875, weight: 3,
                          comment: "gaps at night, \"ok\" otherwise", revision: 0)),
            .reliability(.init(sensor: sensor, until: time, reliability: 871, windows: [[3600, 60, 58, 1, 240, 240, 58, 0], [86400, 1440, 1300, 4, 3600, 9000, 1300, 12]])),
            .groupOpen(.init(id: "g1", organizer: alice, room: "street@rooms.gw1.example", sensor: sensor, from: time,
                             to: try Timestamp(seconds: time.seconds + 7200), amount: try Credits(6), deadline: try Timestamp(seconds: time.seconds + 600),
                             shares: try GroupShares([(bob, try Credits(4)), (alice, try Credits(2))]), request: "r2")),
            .groupPay(.init(id: "g1", member: bob, amount: try Credits(4))),
            .groupComplete(.init(id: "g1")),
            .groupRefund(.init(id: "g1")),
        ]
        for body in bodies {
            for salt in [Salt.random(), nil] {
                let entry = LedgerEntry(time: time, actor: .account(alice), body: body, salt: salt)
                let bytes = try entry.encoded()
                let decoded = try LedgerEntry(decoding: bytes)
                #expect(decoded == entry)
                #expect(try decoded.encoded() == bytes)
            }
        }
    }

    @Test func handWrittenEncodingMatchesJSONEncoderAndPinsCoordinatesToSixDecimals() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bob = try BareJID("bob@gw1.example")
        let tricky = "quote \" back \\ slash / tab \t newline \n é 😀 \u{1}"
        let entries = [
            LedgerEntry(time: time, actor: .operator, body: .creditMint(.init(to: bob, amount: try Credits(7), memo: tricky))),
            LedgerEntry(time: time, actor: .sensor(try SensorID("s1")), body: .sensorFreeze(.init(sensor: try SensorID("s1"), reason: tricky))),
            LedgerEntry(time: time, actor: .account(bob), body: .sensorUpdate(.init(sensor: try SensorID("s1"), price: try Credits(2), name: "n"))),
        ]
        for entry in entries + entries.map({ var unsalted = $0; unsalted.salt = nil; return unsalted }) {
            #expect(try entry.encoded() == Array(try encoder.encode(entry)))
        }
        let placed = LedgerEntry(time: time, actor: .operator, body: .sensorUpdate(.init(sensor: try SensorID("s1"), lat: try .latitude(-0.0001), lon: try .longitude(2))))
        let text = String(decoding: try placed.encoded(), as: UTF8.self)
        #expect(text.contains(#""lat":-0.000100"#))
        #expect(text.contains(#""lon":2.000000"#))
        #expect(try LedgerEntry(decoding: placed.encoded()) == placed)
    }

    @Test func timesFormatAcrossCenturiesAndLeapDays() throws {
        for (seconds, text) in [(Int64(0), "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
                                (4_107_542_399, "2100-02-28T23:59:59Z"), (253_402_300_799, "9999-12-31T23:59:59Z")] {
            #expect(try Timestamp(seconds: seconds).rfc3339 == text)
            #expect(try Timestamp(rfc3339: text).seconds == seconds)
        }
    }

    @Test(arguments: [
        #"{"v":1,"type":"credit.burn","time":"2026-11-22T10:00:00Z","actor":"operator"}"#,
        #"{"v":2,"type":"genesis","time":"2026-11-22T10:00:00Z","actor":"operator"}"#,
        #"{"v":1,"type":"credit.mint","time":"2026-11-22T10:00:00Z","actor":"operator","to":"bob@gw1.example","amount":-1,"memo":""}"#,
        #"{"v":1,"type":"credit.mint","time":"2026-11-22T10:00:00Z","actor":"operator","to":"not a jid","amount":1,"memo":""}"#,
        #"{"v":1,"type":"credit.mint""#,
        "",
    ])
    func malformedEntryBytesAreRefused(_ text: String) {
        #expect(throws: EntryCodingError.self) { try LedgerEntry(decoding: Array(text.utf8)) }
    }

    @Test func oversizedEntryIsRefusedBeforeParsing() {
        let big = [UInt8](repeating: 0x20, count: LedgerEntry.maxEncodedSize + 1)
        #expect(throws: EntryCodingError.self) { try LedgerEntry(decoding: big) }
    }
}

/// A group purchase's shares as one ledger field.
@Suite struct GroupSharesTests {
    @Test func sharesReadBackAndBadListsAreRefused() throws {
        let shares = try GroupShares(validating: "a@gw.example:4,b@gw.example:3")
        #expect(shares.total?.value == 7 && shares.text == "a@gw.example:4,b@gw.example:3")
        #expect(shares.share(of: try BareJID("b@gw.example"))?.value == 3)
        for bad in ["a@gw.example:4", "a@gw.example:4,a@gw.example:3", "a@gw.example:0,b@gw.example:3", "a@gw.example:x,b@gw.example:3",
                    "a@gw.example:4,,b@gw.example:3", (0..<21).map { "m\($0)@gw.example:1" }.joined(separator: ",")] {
            #expect(throws: InvalidInput.self, "\(bad)") { try GroupShares(validating: bad) }
        }
    }
}
