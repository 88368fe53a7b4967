import AgoraCore
@testable import AgoraMQTT
import Foundation

/// `senml`: the bytes are a pack as a sensor publishes it.
///
/// Invariants: no crash; an accepted pack has 1…`maxRecords` readings, none further ahead
/// than the future limit; each reading's canonical record (what is stored and hashed)
/// reads back as the same reading, and encodes to the same bytes again. And, differentially:
/// JSON the hand-written `SenMLJSONReader` accepts, Foundation's `JSONDecoder` accepts too,
/// with the same value in every field Agora reads (the reader may refuse more — duplicate
/// names, trailing commas, deep nesting — never less).
enum SenMLTarget {
    /// A fixed clock, so a finding reproduces: 2026-11-22T10:00:00Z.
    static let now: Int64 = 1_795_341_600 * 1_000_000_000

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        let bytes = Array(input)
        var problems = compareWithJSONDecoder(bytes)
        guard let readings = try? SenMLPack.decode(bytes, now: now) else { return problems }
        if readings.isEmpty || readings.count > SenMLPack.maxRecords { problems.append("accepted a pack of \(readings.count) readings") }
        for (index, reading) in readings.enumerated() {
            if reading.time > now + SenMLPack.maxFutureNanos { problems.append("reading \(index) is accepted from the future") }
            let canonical = reading.canonicalBytes()
            guard let back = try? Reading(canonical: canonical) else {
                problems.append("reading \(index): its canonical record does not read back: \(String(decoding: canonical.prefix(200), as: UTF8.self))")
                continue
            }
            if back != reading {
                problems.append("reading \(index): its canonical record reads back as a different reading: \(String(decoding: canonical.prefix(200), as: UTF8.self))")
            }
            if back.canonicalBytes() != canonical { problems.append("reading \(index): its canonical record is not stable") }
        }
        return problems
    }

    /// The fields `SenMLPack.Record` reads.
    static let known: Set<String> = ["bn", "bt", "bu", "bv", "bs", "n", "u", "v", "vs", "vb", "vd", "s", "t"]

    /// A JSON value as `JSONDecoder` reads it, with only the distinctions the fields need.
    enum Field: Decodable, Equatable {
        case string(String), number(Double), bool(Bool), null, other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null } else if let value = try? container.decode(Bool.self) { self = .bool(value) } else if let value = try? container.decode(Double.self) { self = .number(value) } else if let value = try? container.decode(String.self) { self = .string(value) } else { self = .other }
        }

        init(_ value: SenMLJSONReader.Value, in payload: [UInt8]) {
            switch value {
            case .string(let text): self = .string(text)
            case .number(let range): self = SenMLJSONReader.number(range, in: payload).map { .number($0) } ?? .other
            case .bool(let flag): self = .bool(flag)
            case .null: self = .null
            case .composite: self = .other
            }
        }
    }

    static func compareWithJSONDecoder(_ bytes: [UInt8]) -> [String] {
        guard let records = try? SenMLJSONReader.records(in: bytes, maxRecords: SenMLPack.maxRecords) else { return [] }
        guard let decoded = try? JSONDecoder().decode([[String: Field]].self, from: Data(bytes)) else {
            return ["SenMLJSONReader accepts JSON that JSONDecoder refuses"]
        }
        guard decoded.count == records.count else { return ["SenMLJSONReader reads \(records.count) records, JSONDecoder \(decoded.count)"] }
        var problems: [String] = []
        for (index, (fields, theirs)) in zip(records, decoded).enumerated() {
            for (key, value) in fields where known.contains(key) {
                let mine = Field(value, in: bytes)
                // Where the reader reads 0 and JSONDecoder nothing, both are within RFC 8259 §6:
                // JSONDecoder (FoundationEssentials, Swift 6.3.1) refuses a literal that
                // underflows to zero (`1e-400`), and also `0e5`, a valid zero it reads when
                // signed or with a negative exponent (`-0e5`, `0e-5`). Both found by this check.
                if case .number(0) = mine, theirs[key] == .other { continue }
                if theirs[key] != mine {
                    problems.append("record \(index) field \(key): SenMLJSONReader reads \(mine), JSONDecoder \(theirs[key].map { "\($0)" } ?? "nothing")")
                }
            }
        }
        return problems
    }
}
