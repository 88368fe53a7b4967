import AgoraCore
import AgoraMQTT

/// `senml`: the bytes are a pack as a sensor publishes it.
///
/// Invariants: no crash; an accepted pack has 1…`maxRecords` readings, none further ahead
/// than the future limit; each reading's canonical record (what is stored and hashed)
/// reads back as the same reading, and encodes to the same bytes again.
enum SenMLTarget {
    /// A fixed clock, so a finding reproduces: 2026-11-22T10:00:00Z.
    static let now: Int64 = 1_795_341_600 * 1_000_000_000

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard let readings = try? SenMLPack.decode(Array(input), now: now) else { return [] }
        var problems: [String] = []
        if readings.isEmpty || readings.count > SenMLPack.maxRecords { problems.append("accepted a pack of \(readings.count) readings") }
        for (index, reading) in readings.enumerated() {
            if reading.time > now + SenMLPack.maxFutureNanos { problems.append("reading \(index) is accepted from the future") }
            let bytes = reading.canonicalBytes()
            guard let back = try? Reading(canonical: bytes) else {
                problems.append("reading \(index): its canonical record does not read back: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                continue
            }
            if back != reading {
                problems.append("reading \(index): its canonical record reads back as a different reading: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
            }
            if back.canonicalBytes() != bytes { problems.append("reading \(index): its canonical record is not stable") }
        }
        return problems
    }
}
