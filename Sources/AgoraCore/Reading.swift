/// One sensor reading, resolved from a SenML record (RFC 8428): full name, absolute time,
/// unit and exactly one value.
///
/// `canonicalBytes` is what the `readings` table stores and what the `readings.commit`
/// Merkle root hashes (`SHA-256(0x00 ‖ bytes)`), so a buyer can check a reading against the
/// ledger: compact JSON, keys sorted, time as integer nanoseconds since 1970.
public struct Reading: Hashable, Sendable {
    public enum Value: Hashable, Sendable {
        case number(Double)
        case string(String)
        case boolean(Bool)
        /// `vd`: base64url text as the sensor sent it.
        case data(String)
    }

    public var name: String
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var time: Int64
    public var unit: String
    public var value: Value
    /// SenML `s` (sum), when the sensor sent one.
    public var sum: Double?

    public init(name: String, time: Int64, unit: String = "", value: Value, sum: Double? = nil) {
        self.name = name; self.time = time; self.unit = unit; self.value = value; self.sum = sum
    }

    /// The canonical record, with `salt` when given. The gateway stores and commits readings
    /// salted (`ReadingsCommitter`), so the leaf hash of a reading outside a buyer's window,
    /// seen in an audit path, cannot be matched against guessed values; records committed
    /// before salts existed have none and still verify, since a verifier hashes the bytes.
    public func canonicalBytes(salt: Salt? = nil) -> [UInt8] {
        var w = CanonicalEntryWriter()
        if let salt { w.string("salt", salt.hex) }
        w.string("n", name)
        w.integer("t", time)
        if !unit.isEmpty { w.string("u", unit) }
        switch value {
        case .number(let v): w.number("v", v)
        case .string(let v): w.string("vs", v)
        case .boolean(let v): w.boolean("vb", v)
        case .data(let v): w.string("vd", v)
        }
        if let sum { w.number("s", sum) }
        return w.finish()
    }
}

extension Reading {
    /// RFC 3339 UTC with nine fractional digits, e.g. `2026-11-22T10:00:00.500000000Z`.
    public static func formatTime(_ nanos: Int64) -> String {
        let seconds = nanos >= 0 ? nanos / 1_000_000_000 : (nanos - 999_999_999) / 1_000_000_000
        let fraction = String(nanos - seconds * 1_000_000_000)
        let base = Timestamp(unchecked: seconds).rfc3339.dropLast() // drop "Z"
        return base + "." + String(repeating: "0", count: 9 - fraction.count) + fraction + "Z"
    }

    /// Parses RFC 3339 with or without fractional seconds into nanoseconds. Times that do not
    /// fit (nanoseconds since 1970 overflow a 64-bit integer after 2262-04-11) are refused.
    public static func parseTime(_ text: String) throws(InvalidInput) -> Int64 {
        func nanoseconds(_ seconds: Int64, plus fraction: Int64 = 0) throws(InvalidInput) -> Int64 {
            let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            let (sum, overflow2) = scaled.addingReportingOverflow(fraction)
            guard !overflow, !overflow2 else { throw .outOfRange("time", reason: "must be between 1677 and 2262 (\(text))") }
            return sum
        }
        guard let dot = text.firstIndex(of: "."), text.hasSuffix("Z") else {
            return try nanoseconds(try Timestamp(rfc3339: text).seconds)
        }
        let digits = text[text.index(after: dot)..<text.index(before: text.endIndex)]
        guard (1...9).contains(digits.count), digits.allSatisfy(\.isNumber), let fraction = Int64(digits) else {
            throw .malformed("time", text, reason: "expected RFC 3339 with up to 9 fractional digits")
        }
        let seconds = try Timestamp(rfc3339: String(text[..<dot]) + "Z").seconds
        var scale: Int64 = 1
        for _ in 0..<(9 - digits.count) { scale *= 10 }
        return try nanoseconds(seconds, plus: fraction * scale)
    }

    /// The canonical record back as a reading (what `export` and `prove` read from the store).
    /// A salt in the record is checked and left out: it belongs to the stored record, not to
    /// the measurement (`salt(ofCanonical:)` reads it).
    public init(canonical bytes: [UInt8]) throws(EntryCodingError) {
        let raw = try Self.record(bytes)
        if let salt = raw.salt, Salt(hex: salt) == nil { throw EntryCodingError(reason: "stored reading has a malformed salt") }
        guard let name = raw.n, let time = raw.t else { throw EntryCodingError(reason: "stored reading has no name or no time") }
        guard let value = raw.value else { throw EntryCodingError(reason: "stored reading has no value, or more than one") }
        self.init(name: name, time: time, unit: raw.u ?? "", value: value, sum: raw.s)
    }
}

extension Reading {
    /// The salt of a stored canonical record; nil for a record written before readings were salted.
    public static func salt(ofCanonical bytes: [UInt8]) throws(EntryCodingError) -> Salt? {
        try record(bytes).salt.map { text throws(EntryCodingError) in
            guard let salt = Salt(hex: text) else { throw EntryCodingError(reason: "stored reading has a malformed salt") }
            return salt
        }
    }

    /// A stored canonical record without its salt: the bytes `canonicalBytes()` gives for the
    /// same reading, found without parsing (the committer compares every stored record in a
    /// redelivered batch's span). In canonical JSON a `"` inside a string is always escaped,
    /// so `,"salt":"` can only be the salt's own key; "n" always precedes it, hence the comma.
    public static func unsalted(canonical bytes: [UInt8]) -> [UInt8] {
        let key = Array(#","salt":""#.utf8)
        guard let start = bytes.firstRange(of: key)?.lowerBound,
              let close = bytes[(start + key.count)...].firstIndex(of: UInt8(ascii: "\"")) else { return bytes }
        return Array(bytes[..<start] + bytes[(close + 1)...])
    }

    /// The stored form of a reading, as `canonicalBytes` writes it.
    private static func record(_ bytes: [UInt8]) throws(EntryCodingError) -> SenMLRecord<Int64> {
        do { return try CanonicalJSON.decode(SenMLRecord<Int64>.self, from: bytes) } catch {
            throw EntryCodingError(reason: "stored reading is unreadable: \(CanonicalJSON.summary(of: error))")
        }
    }
}
