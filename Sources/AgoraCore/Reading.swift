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

    public func canonicalBytes() -> [UInt8] {
        var w = CanonicalEntryWriter()
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
