import AgoraTestSupport
import Foundation
import Testing
@testable import AgoraMQTT

/// The hand-written SenML JSON reader against Foundation's `JSONDecoder` (what Agora used
/// before, and the reference for what JSON is): the same packs accepted, the same fields
/// read from them, the same packs refused.
@Suite struct SenMLJSONReaderTests {
    /// The decoder-based record Agora had, kept here as the oracle.
    struct OracleRecord: Decodable, Equatable {
        var bn: String?, bt: Double?, bu: String?, bv: Double?, bs: Double?
        var n: String?, u: String?, v: Double?, vs: String?, vb: Bool?, vd: String?, s: Double?, t: Double?

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(_ record: SenMLPack.Record) {
            bn = record.bn; bt = record.bt; bu = record.bu; bv = record.bv; bs = record.bs
            n = record.n; u = record.u; v = record.v; vs = record.vs; vb = record.vb; vd = record.vd; s = record.s; t = record.t
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            if c.allKeys.contains(where: { $0.stringValue.hasSuffix("_") }) { throw SenMLError(.mustUnderstand, "") }
            for key in c.allKeys {
                switch key.stringValue {
                case "bn": bn = try c.decode(String.self, forKey: key)
                case "bt": bt = try c.decode(Double.self, forKey: key)
                case "bu": bu = try c.decode(String.self, forKey: key)
                case "bv": bv = try c.decode(Double.self, forKey: key)
                case "bs": bs = try c.decode(Double.self, forKey: key)
                case "n": n = try c.decode(String.self, forKey: key)
                case "u": u = try c.decode(String.self, forKey: key)
                case "v": v = try c.decode(Double.self, forKey: key)
                case "vs": vs = try c.decode(String.self, forKey: key)
                case "vb": vb = try c.decode(Bool.self, forKey: key)
                case "vd": vd = try c.decode(String.self, forKey: key)
                case "s": s = try c.decode(Double.self, forKey: key)
                case "t": t = try c.decode(Double.self, forKey: key)
                default: continue
                }
            }
        }
    }

    func reader(_ text: [UInt8]) -> [OracleRecord]? {
        guard let records = try? SenMLJSONReader.records(in: text, maxRecords: 1000) else { return nil }
        return try? records.map { try OracleRecord(SenMLPack.Record($0, in: text)) }
    }

    func oracle(_ text: [UInt8]) -> [OracleRecord]? {
        guard let records = try? JSONDecoder().decode([OracleRecord].self, from: Data(text)) else { return nil }
        return records
    }

    /// Where the two may differ, by design: `JSONDecoder` accepts trailing commas and reads
    /// records with duplicate names; RFC 8259 has neither, and the reader refuses both
    /// (`duplicates`: the text has a record with a name twice).
    func agree(_ bytes: [UInt8], duplicates: Bool = false) -> Bool {
        let mine = reader(bytes)
        if duplicates { return mine == nil }
        let theirs = oracle(bytes)
        if mine == theirs { return true }
        guard mine == nil, theirs != nil, let text = String(validating: bytes, as: UTF8.self) else { return false }
        return text.contains(",]") || text.contains(",}")
    }

    @Test func duplicateNamesAndTrailingCommasAreRefused() {
        for text in [#"[{"v":1,"v":2}]"#, #"[{"n":"a","vb":true,"n":"b"}]"#, #"[{"v":1},]"#, #"[{"v":1,}]"#] {
            #expect(reader(Array(text.utf8)) == nil, "\(text)")
        }
    }

    @Test(arguments: [
        #"[{"n":"a","v":1}]"#,
        #" [ { "n" : "a" , "v" : -0.5e-3 } , {"vs":"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00"} ] "#,
        #"[{"bn":"urn:dev:","bt":1.795341590e9,"bu":"Cel","n":"t","v":23.1,"x":{"a":[1,2,{"b":null}]},"y":[],"z":{}}]"#,
        #"[{"vb":false},{"vb":true},{}]"#,
        #"[{"ignored":1e400,"v":0}]"#,
        #"[{"v":1e400}]"#, #"[{"v":01}]"#, #"[{"v":1.}]"#, #"[{"v":.5}]"#, #"[{"v":+1}]"#, #"[{"v":1e}]"#, #"[{"v":-}]"#,
        #"[{"v":"1"}]"#, #"[{"vb":1}]"#, #"[{"n":null}]"#, #"[{"n":1}]"#, #"[{"v":1},]"#, #"[{"v":1,}]"#, #"[{"v":1}"#,
        #"[{"v":1}] x"#, #"{"v":1}"#, #"[1]"#, #"[[]]"#, #"[{"vs":"\ud800"}]"#, #"[{"vs":"\udc00x"}]"#, #"[{"vs":"\x"}]"#,
        #"[{"vs":"\u12"}]"#, "[{\"vs\":\"a\u{01}b\"}]", #"[{"vs":"unterminated}]"#, #"[{"a_":1}]"#, #"[tru]"#, #"[{"v":nul}]"#,
        #"[{"v":1} {"v":2}]"#, #"[{"v" 1}]"#, #"[{v:1}]"#, "", " ", "[", "]", #"[{"x":[[[[[[[[[[1]]]]]]]]]]}]"#,
    ])
    func readerAgreesWithJSONDecoder(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(agree(bytes), "\(text): reader \(String(describing: reader(bytes))), JSONDecoder \(String(describing: oracle(bytes)))")
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = Array(#"[{"vs":""#.utf8) + [0xC3, 0x28] + Array(#""}]"#.utf8)
        #expect(reader(bytes) == nil)
        #expect(oracle(bytes) == nil)
    }

    /// Random packs from a grammar that mixes valid and invalid pieces: both must agree on
    /// every one (10^4 packs, a fixed seed so a failure can be replayed).
    @Test func randomPacksAgreeWithJSONDecoder() {
        var rng = SplitMix(seed: 0x5E_4D_1A)
        let keys = ["bn", "bt", "bu", "bv", "bs", "n", "u", "v", "vs", "vb", "vd", "s", "t", "bver", "x", "ut", "q_"]
        let strings = [#""a""#, #""urn:dev:ow:10e2073a01080063:""#, #""\u00e9\n""#, #""\ud83d\ude00""#, #""""#, #""Cel""#, #""\"""#]
        let numbers = ["0", "-0", "1", "-1.5", "23.1", "1e3", "1E-3", "1.795341590e9", "12345678901234567890", "0.000000001", "1e400"]
        let others = ["true", "false", "null", "[]", "{}", #"[1,"a",{"b":[null]}]"#]
        func value() -> String {
            switch rng.next() % 3 {
            case 0: strings[Int(rng.next() % UInt64(strings.count))]
            case 1: numbers[Int(rng.next() % UInt64(numbers.count))]
            default: others[Int(rng.next() % UInt64(others.count))]
            }
        }
        var disagreements: [String] = []
        for _ in 0..<10_000 {
            var duplicates = false
            let records = (0..<(1 + rng.next() % 4)).map { _ in
                let names = (0..<(rng.next() % 5)).map { _ in keys[Int(rng.next() % UInt64(keys.count))] }
                if Set(names).count < names.count { duplicates = true }
                return "{" + names.map { "\"\($0)\":\(value())" }.joined(separator: ",") + "}"
            }
            var text = "[" + records.joined(separator: rng.next() % 50 == 0 ? " " : ",") + "]"
            if rng.next() % 40 == 0 { text.removeLast() }
            let bytes = Array(text.utf8)
            if !agree(bytes, duplicates: duplicates) { disagreements.append(text) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.first ?? "")")
    }
}
