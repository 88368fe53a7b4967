import AgoraCore
import AgoraMQTT
import Testing

@Suite struct SenMLPackTests {
    let now: Int64 = 1_795_341_600 * 1_000_000_000 // 2026-11-22T10:00:00Z

    func decode(_ json: String) throws(SenMLError) -> [Reading] { try SenMLPack.decode(Array(json.utf8), now: now) }

    @Test func baseFieldsResolveAcrossRecords() throws {
        // RFC 8428 §5.1.2-style pack: base name, base time, base unit, relative offsets.
        let readings = try decode(#"[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1795341590,"bu":"Cel","n":"temp","v":23.1},{"n":"temp","t":5,"v":23.5},{"n":"hum","u":"%RH","t":5,"v":41},{"n":"door","vb":true},{"n":"label","vs":"north"},{"n":"blob","vd":"AAEC"}]"#)
        #expect(readings.count == 6)
        #expect(readings[0] == Reading(name: "urn:dev:ow:10e2073a01080063:temp", time: 1_795_341_590_000_000_000, unit: "Cel", value: .number(23.1)))
        #expect(readings[1].time == 1_795_341_595_000_000_000)
        #expect(readings[2].unit == "%RH")
        #expect(readings[3].value == .boolean(true) && readings[3].unit == "Cel")
        #expect(readings[4].value == .string("north"))
        #expect(readings[5].value == .data("AAEC"))
    }

    @Test func smallTimesAreRelativeToNowAndBaseValuesAdd() throws {
        let readings = try decode(#"[{"n":"t","t":-60,"v":1,"bv":100},{"n":"t","v":2}]"#)
        #expect(readings[0].time == now - 60_000_000_000)
        #expect(readings[0].value == .number(101))
        #expect(readings[1].time == now)
        #expect(readings[1].value == .number(102))
    }

    @Test func anyTimeBelow2To28IsRelativeAndBaseSumsAdd() throws {
        let readings = try decode(#"[{"n":"old","t":-300000000,"v":1,"s":2,"bs":10}]"#)
        #expect(readings[0].time == now - 300_000_000 * 1_000_000_000)
        #expect(readings[0].sum == 12)
    }

    @Test func fractionalTimesKeepTheirNanoseconds() throws {
        let readings = try decode(#"[{"bt":1795341000,"n":"a","t":1.25,"v":1},{"n":"b","t":0.000000001,"v":2},{"n":"c","bt":1795341000.5,"t":0.123456789,"v":3}]"#)
        #expect(readings.map(\.time) == [1_795_341_001_250_000_000, 1_795_341_000_000_000_001, 1_795_341_000_623_456_789])
    }

    @Test func canonicalRecordsAreStableCompactJSON() throws {
        let reading = try decode(#"[{"n":"temp","t":1795341600.5,"u":"Cel","v":21.5}]"#)[0]
        #expect(String(decoding: reading.canonicalBytes(), as: UTF8.self) == #"{"n":"temp","t":1795341600500000000,"u":"Cel","v":21.5}"#)
    }

    @Test(arguments: [
        ("not json", SenMLError.Code.malformed),
        ("{}", .malformed),
        ("[]", .malformed),
        (#"[{"n":"t"}]"#, .noValue),
        (#"[{"n":"t","v":1,"vs":"x"}]"#, .noValue),
        (#"[{"v":1}]"#, .badName),
        (#"[{"n":"-t","v":1}]"#, .badName),
        (#"[{"n":"a b","v":1}]"#, .badName),
        (#"[{"n":"t","v":"1"}]"#, .malformed),
        (#"[{"n":"t","v":1,"t":1795342300}]"#, .future),
        (#"[{"n":"t","v":1,"foo_":2}]"#, .mustUnderstand),
        (#"[{"n":"t","vd":"not base64!"}]"#, .badValue),
        (#"[{"n":"t","v":1e400}]"#, .malformed),
        (#"[{"n":"t","bt":9e9,"t":9e9,"v":1}]"#, .badValue),
        (#"[{"n":"t","bt":4.5e9,"t":4.5e9,"v":1}]"#, .future),
    ])
    func invalidPacksAreRefusedWhole(_ json: String, _ code: SenMLError.Code) {
        do {
            _ = try decode(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.code == code, "\(json): \(error)")
        }
    }

    @Test func oversizedAndOverlongPacksAreRefused() {
        let big = "[" + String(repeating: #"{"n":"t","v":1},"#, count: 5000) + #"{"n":"t","v":1}]"#
        #expect(throws: SenMLError.self) { try decode(big) }
        let many = "[" + Array(repeating: #"{"n":"t","v":1}"#, count: 1001).joined(separator: ",") + "]"
        do { _ = try decode(many); Issue.record("accepted 1001 records") } catch { #expect(error.code == .tooManyRecords) }
    }
}
