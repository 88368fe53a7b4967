/// One SenML record (RFC 8428 §4) with the fields Agora reads, every one optional, as
/// written: the one record type for both places a record appears.
///
/// - On the wire (`SenMLRecord<Double>`): what a sensor publishes; `t` and `bt` are seconds,
///   base fields (§4.1) carry over to later records, and `SenMLPack` resolves them into
///   `Reading`s.
/// - In the `readings` table (`SenMLRecord<Int64>`): the canonical record
///   `Reading.canonicalBytes` writes — resolved (no base fields), `t` in integer nanoseconds
///   since 1970 (a `Double` cannot hold those exactly), and Agora's `salt`.
///
/// Unknown fields are not kept (§4.4: only those ending in `_` must be understood, and the
/// wire reader refuses those before a record is built).
public struct SenMLRecord<Time: Sendable & Hashable>: Sendable, Hashable {
    /// Base name, time, unit, value and sum (§4.1); wire form only.
    public var bn: String?, bt: Double?, bu: String?, bv: Double?, bs: Double?
    public var n: String?, u: String?
    /// The value: a valid record has exactly one of these (§4.2).
    public var v: Double?, vs: String?, vb: Bool?, vd: String?
    public var s: Double?
    public var t: Time?
    /// The salt of a stored record (see `Reading.canonicalBytes(salt:)`); not a SenML field.
    public var salt: String?

    public init(n: String? = nil, u: String? = nil, v: Double? = nil, vs: String? = nil, vb: Bool? = nil, vd: String? = nil,
                s: Double? = nil, t: Time? = nil) {
        self.n = n; self.u = u; self.v = v; self.vs = vs; self.vb = vb; self.vd = vd; self.s = s; self.t = t
    }

    /// The record's value as written, when it has exactly one of `v`, `vs`, `vb`, `vd`; nil
    /// when it has none or several. (A wire record's `v` is not yet added to `bv`.)
    public var value: Reading.Value? {
        switch (v, vs, vb, vd) {
        case (let v?, nil, nil, nil): .number(v)
        case (nil, let vs?, nil, nil): .string(vs)
        case (nil, nil, let vb?, nil): .boolean(vb)
        case (nil, nil, nil, let vd?): .data(vd)
        default: nil
        }
    }
}

extension SenMLRecord: Decodable where Time: Decodable {}
