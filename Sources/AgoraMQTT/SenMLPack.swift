public import AgoraCore
internal import FoundationEssentials

/// Decodes SenML JSON packs (RFC 8428) into resolved readings.
///
/// Base fields carry over to later records until changed (§4.1): the name is `bn + n`,
/// the time `bt + t` (a resolved time below 2^28 s is relative to now, §4.5.3), the unit
/// `u` else `bu`, a numeric value `v + bv`. Each record needs exactly one of `v`, `vs`,
/// `vb`, `vd` (a record with only a sum `s` is refused: Agora stores values); `s` adds `bs`;
/// names use the §4.5.1 characters. Fields ending in `_` must be understood
/// (§4.4), so any is refused. A pack is taken whole or refused whole.
public enum SenMLPack {
    public static let maxSize = 64 * 1024
    public static let maxRecords = 1000
    /// Readings more than this far ahead of the gateway's clock are refused.
    public static let maxFutureNanos: Int64 = 600 * 1_000_000_000

    public static func decode(_ payload: [UInt8], now: Int64) throws(SenMLError) -> [Reading] {
        guard payload.count <= maxSize else { throw SenMLError(.tooLarge, "pack of \(payload.count) bytes is over the \(maxSize)-byte limit") }
        let records = try SenMLJSONReader.records(in: payload, maxRecords: maxRecords).map { fields throws(SenMLError) in
            try Record(fields, in: payload)
        }
        guard !records.isEmpty else { throw SenMLError(.malformed, "empty pack") }

        var baseName = "", baseTime = 0.0, baseUnit = "", baseValue = 0.0, baseSum = 0.0
        var readings: [Reading] = []
        readings.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            if let bn = record.bn { baseName = bn }
            if let bt = record.bt { baseTime = bt }
            if let bu = record.bu { baseUnit = bu }
            if let bv = record.bv { baseValue = bv }
            if let bs = record.bs { baseSum = bs }
            let name = baseName + (record.n ?? "")
            try validate(name: name, record: index)
            let offset = record.t ?? 0
            // Each part below 4.6e9 s, so their sum in nanoseconds stays inside Int64.
            guard baseTime.isFinite, offset.isFinite, abs(baseTime) < 4.6e9, abs(offset) < 4.6e9 else {
                throw SenMLError(.badValue, "record \(index): time out of range")
            }
            // Whole and fractional seconds apart: a Double of ~1.8e18 ns cannot hold nanoseconds.
            var time = nanoseconds(baseTime) + nanoseconds(offset)
            if baseTime + offset < 268_435_456 { time += now } // below 2^28: relative to now (§4.5.3)
            guard time >= 0 else { throw SenMLError(.badValue, "record \(index): time before 1970") }
            guard time <= now + maxFutureNanos else {
                throw SenMLError(.future, "record \(index): time is more than 10 minutes ahead of the gateway's clock")
            }
            guard var value = record.value else { throw SenMLError(.noValue, "record \(index): needs exactly one of v, vs, vb, vd") }
            switch value {
            case .number(let v):
                let total = v + baseValue
                guard total.isFinite else { throw SenMLError(.badValue, "record \(index): value is not finite") }
                value = .number(total)
            case .string(let vs):
                guard vs.utf8.count <= 1024 else { throw SenMLError(.badValue, "record \(index): vs longer than 1024 bytes") }
            case .boolean:
                break
            case .data(let vd):
                guard vd.utf8.count <= 4096, vd.utf8.allSatisfy({ $0.isBase64URL }) else {
                    throw SenMLError(.badValue, "record \(index): vd must be base64url, at most 4096 characters")
                }
            }
            let unit = record.u ?? baseUnit
            guard unit.utf8.count <= 32, unit.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
                throw SenMLError(.badValue, "record \(index): unit must be at most 32 printable characters")
            }
            let sum = record.s.map { $0 + baseSum }
            if let sum, !sum.isFinite { throw SenMLError(.badValue, "record \(index): sum is not finite") }
            readings.append(Reading(name: name, time: time, unit: unit, value: value, sum: sum))
        }
        return readings
    }

    /// Seconds (as JSON gives them) to nanoseconds, exact for the fractions sensors send.
    static func nanoseconds(_ seconds: Double) -> Int64 {
        let whole = seconds.rounded(.down)
        return Int64(whole) * 1_000_000_000 + Int64(((seconds - whole) * 1e9).rounded())
    }

    /// §4.5.1: 1…128 characters from `A–Z a–z 0–9 - : . / _`, starting with a letter or digit.
    static func validate(name: String, record: Int) throws(SenMLError) {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 128, first.isLetterOrDigit,
              bytes.allSatisfy({ $0.isLetterOrDigit || "-:./_".utf8.contains($0) })
        else { throw SenMLError(.badName, "record \(record): name must be 1…128 of A-Z a-z 0-9 - : . / _, starting with a letter or digit") }
    }

    /// One record as sent (the wire form of the one SenML record type).
    typealias Record = SenMLRecord<Double>
}

extension SenMLRecord where Time == Double {
    /// The record a sensor sent, from its fields as `SenMLJSONReader` read them; unknown
    /// "must understand" fields (ending in `_`) refused.
    init(_ fields: SenMLJSONReader.Record, in payload: [UInt8]) throws(SenMLError) {
        self.init()
        if let field = fields.first(where: { $0.key.hasSuffix("_") }) {
            throw SenMLError(.mustUnderstand, "field \(field.key) must be understood and is not")
        }
        func string(_ value: SenMLJSONReader.Value, _ key: String) throws(SenMLError) -> String {
            guard case .string(let text) = value else { throw SenMLError(.malformed, "not a SenML JSON pack: \(key) must be a string") }
            return text
        }
        func number(_ value: SenMLJSONReader.Value, _ key: String) throws(SenMLError) -> Double {
            guard case .number(let range) = value, let number = SenMLJSONReader.number(range, in: payload) else {
                throw SenMLError(.malformed, "not a SenML JSON pack: \(key) must be a finite number")
            }
            return number
        }
        for (key, value) in fields {
            switch key {
            case "bn": bn = try string(value, key)
            case "bt": bt = try number(value, key)
            case "bu": bu = try string(value, key)
            case "bv": bv = try number(value, key)
            case "bs": bs = try number(value, key)
            case "n": n = try string(value, key)
            case "u": u = try string(value, key)
            case "v": v = try number(value, key)
            case "vs": vs = try string(value, key)
            case "vb":
                guard case .bool(let flag) = value else { throw SenMLError(.malformed, "not a SenML JSON pack: vb must be true or false") }
                vb = flag
            case "vd": vd = try string(value, key)
            case "s": s = try number(value, key)
            case "t": t = try number(value, key)
            default: continue // bver, ut and unknown fields without "_": ignored (§4.4)
            }
        }
    }
}

extension UInt8 {
    var isLetterOrDigit: Bool { (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) }
    var isBase64URL: Bool { isLetterOrDigit || self == UInt8(ascii: "-") || self == UInt8(ascii: "_") || self == UInt8(ascii: "=") }
}
