/// Writes a ledger entry's canonical JSON: one flat object, keys sorted by their UTF-8
/// bytes, no whitespace, strings escaped per RFC 8259 §7 (only `"`, `\` and controls),
/// integers in decimal, coordinates with exactly six decimals.
///
/// Written by hand rather than with `JSONEncoder` for two reasons: it pins the canonical
/// form (a library's float formatting or escaping may change between releases, and the
/// bytes are hashed into the ledger forever), and it is several times faster on the
/// hottest path of the gateway — every ledger append. `JSONDecoder` reads the result;
/// the tests check both directions for every entry type.
public struct CanonicalEntryWriter {
    private var fields: [(key: String, value: [UInt8])] = []

    public init() { fields.reserveCapacity(16) }

    public mutating func string(_ key: String, _ value: String) {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(value.utf8.count + 2)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        fields.append((key, out))
    }

    public mutating func integer(_ key: String, _ value: some BinaryInteger) {
        fields.append((key, Array(String(value).utf8)))
    }

    /// Six decimals, e.g. `48.856613`, `-0.000100`, `2.000000`.
    public mutating func coordinate(_ key: String, _ value: Coordinate?) {
        guard let value else { return }
        let micro = Int64(value.microdegrees)
        let magnitude = micro.magnitude
        let fraction = String(magnitude % 1_000_000)
        let text = (micro < 0 ? "-" : "") + String(magnitude / 1_000_000) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
        fields.append((key, Array(text.utf8)))
    }

    public mutating func optionalString(_ key: String, _ value: String?) { if let value { string(key, value) } }

    /// A finite number in Swift's shortest round-trip form (`21.5`, `1e-06`, `3.0`), which is
    /// valid JSON and the same text for the same value every time.
    public mutating func number(_ key: String, _ value: Double) {
        precondition(value.isFinite, "JSON has no NaN or infinity")
        fields.append((key, Array(value.description.utf8)))
    }

    /// An array of arrays of integers, `[[1,2],[3]]`: a table of counts in one field.
    public mutating func integerRows(_ key: String, _ rows: [[Int64]]) {
        let text = "[" + rows.map { "[" + $0.map { String($0) }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        fields.append((key, Array(text.utf8)))
    }

    public mutating func boolean(_ key: String, _ value: Bool) {
        fields.append((key, Array((value ? "true" : "false").utf8)))
    }

    /// The object, keys in byte order (which is `JSONEncoder`'s `.sortedKeys` order for ASCII keys).
    public func finish() -> [UInt8] {
        let sorted = fields.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(sorted.reduce(2) { $0 + $1.key.utf8.count + $1.value.count + 4 })
        for (i, field) in sorted.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out += field.key.utf8
            out += [UInt8(ascii: "\""), UInt8(ascii: ":")]
            out += field.value
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension LedgerEntry {
    /// The canonical bytes, written field by field (see `CanonicalEntryWriter`).
    func canonicalBytes() -> [UInt8] {
        var w = CanonicalEntryWriter()
        w.integer("v", version)
        if let salt { w.string("salt", salt.hex) }
        w.string("type", body.type)
        w.string("time", time.rfc3339)
        w.string("actor", actor.description)
        switch body {
        case .genesis(let g):
            w.string("origin", g.origin); w.string("name", g.name); w.string("logKey", g.logKey)
            w.string("caFingerprint", g.caFingerprint); w.integer("checkpointInterval", g.checkpointInterval)
        case .accountOpen(let a), .accountRole(let a):
            w.string("jid", a.jid.description); w.string("role", a.role.rawValue)
        case .creditMint(let m):
            w.string("to", m.to.description); w.integer("amount", m.amount.value); w.string("memo", m.memo)
        case .creditTransfer(let t):
            w.string("from", t.from.description); w.string("to", t.to.description); w.integer("amount", t.amount.value)
        case .sensorRegister(let r):
            w.string("sensor", r.sensor.rawValue); w.string("owner", r.owner.description); w.string("kind", r.kind)
            w.string("name", r.name); w.string("unit", r.unit); w.integer("price", r.price.value)
            w.integer("frequency", r.frequency); w.coordinate("lat", r.lat); w.coordinate("lon", r.lon)
            w.string("url", r.url); w.string("cert", r.cert)
        case .sensorUpdate(let u):
            w.string("sensor", u.sensor.rawValue)
            if let price = u.price { w.integer("price", price.value) }
            w.optionalString("url", u.url); w.optionalString("owner", u.owner?.description); w.optionalString("name", u.name)
            w.coordinate("lat", u.lat); w.coordinate("lon", u.lon)
        case .sensorFreeze(let c), .sensorUnfreeze(let c):
            w.string("sensor", c.sensor.rawValue); w.string("reason", c.reason)
        case .purchase(let p):
            w.string("id", p.id); w.string("buyer", p.buyer.description); w.string("sensor", p.sensor.rawValue)
            w.string("from", p.from.rfc3339); w.string("to", p.to.rfc3339); w.integer("amount", p.amount.value)
            w.string("request", p.request)
        case .certIssue(let c):
            w.string("serial", c.serial); w.string("subject", c.subject); w.string("fingerprint", c.fingerprint)
            w.string("notAfter", c.notAfter.rfc3339); w.string("certificate", c.certificate)
        case .certRevoke(let r):
            w.string("serial", r.serial); w.string("reason", r.reason)
        case .caAdopt(let a):
            w.string("fingerprint", a.fingerprint); w.string("certificate", a.certificate)
        case .readingsCommit(let r):
            w.string("sensor", r.sensor.rawValue); w.string("first", r.first); w.string("last", r.last)
            w.integer("count", r.count); w.string("root", r.root)
        case .rating(let r):
            w.string("purchase", r.purchase); w.string("rater", r.rater.description); w.string("sensor", r.sensor.rawValue)
            w.string("owner", r.owner.description); w.integer("satisfaction", r.satisfaction); w.integer("weight", r.weight)
            w.string("comment", r.comment); w.integer("revision", r.revision)
        case .reliability(let r):
            w.string("sensor", r.sensor.rawValue); w.string("until", r.until.rfc3339); w.integer("reliability", r.reliability)
            w.integerRows("windows", r.windows)
        case .groupOpen(let g):
            w.string("id", g.id); w.string("organizer", g.organizer.description); w.string("room", g.room)
            w.string("sensor", g.sensor.rawValue); w.string("from", g.from.rfc3339); w.string("to", g.to.rfc3339)
            w.integer("amount", g.amount.value); w.string("deadline", g.deadline.rfc3339); w.string("shares", g.shares.text)
            w.string("request", g.request)
        case .groupPay(let p):
            w.string("id", p.id); w.string("member", p.member.description); w.integer("amount", p.amount.value)
        case .groupComplete(let c), .groupRefund(let c):
            w.string("id", c.id)
        }
        return w.finish()
    }
}
