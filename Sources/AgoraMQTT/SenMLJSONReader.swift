/// Reads the JSON text of a SenML pack (RFC 8259 grammar, RFC 8428 §5 shape: an array of
/// flat objects) into its records' fields, in one pass over the bytes.
///
/// Hand-written because decoding packs with FoundationEssentials' `JSONDecoder` took about a
/// quarter of the ingester's CPU under load (Benchmarks/README.md, issue 4 profile): it
/// builds a keyed container per record and a `String` per key. No JSON library in the
/// available set reads into caller-chosen storage. This reader keeps the decoder's
/// contract: the whole text is checked against the JSON grammar first (any syntax error is
/// `malformed`, wherever it is; so are duplicate field names and the trailing commas
/// `JSONDecoder` lets through), numbers are converted only for the fields Agora reads
/// (an unknown field's `1e400` is ignored, a known field's is refused), and strings are
/// unescaped and must be valid UTF-8. `Tests/AgoraMQTTTests` checks it against
/// `JSONDecoder` on generated packs, and the SenML fuzz target runs it on arbitrary bytes.
struct SenMLJSONReader {
    /// A field's value as written; numbers stay text until a known field needs them.
    enum Value {
        case string(String)
        case number(Range<Int>)
        case bool(Bool)
        case null
        /// An object or array (only allowed in fields Agora ignores).
        case composite
    }

    typealias Record = [(key: String, value: Value)]

    static let maxDepth = 32

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The pack's records, each its fields in order. Throws `malformed` (not JSON, or not an
    /// array of objects) or `tooManyRecords`.
    static func records(in payload: [UInt8], maxRecords: Int) throws(SenMLError) -> [Record] {
        try payload.withUnsafeBufferPointer { (buffer: UnsafeBufferPointer<UInt8>) throws(SenMLError) -> [Record] in
            var reader = SenMLJSONReader(buffer)
            return try reader.pack(maxRecords: maxRecords)
        }
    }

    /// Converts the number text at `range` of `payload` (already checked against the grammar).
    static func number(_ range: Range<Int>, in payload: [UInt8]) -> Double? {
        let text = String(decoding: payload[range], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    // MARK: - Grammar

    private mutating func pack(maxRecords: Int) throws(SenMLError) -> [Record] {
        skipWhitespace()
        guard take(UInt8(ascii: "[")) else { throw malformed("a SenML pack is a JSON array") }
        var records: [Record] = []
        skipWhitespace()
        if !take(UInt8(ascii: "]")) {
            repeat {
                skipWhitespace()
                guard peek == UInt8(ascii: "{") else { throw malformed("each SenML record is a JSON object") }
                records.append(try record())
                guard records.count <= maxRecords else { throw SenMLError(.tooManyRecords, "more than \(maxRecords) records") }
                skipWhitespace()
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")) else { throw malformed("expected , or ] after a record") }
        }
        skipWhitespace()
        guard position == bytes.count else { throw malformed("text after the pack") }
        return records
    }

    private mutating func record() throws(SenMLError) -> Record {
        position += 1 // {
        var fields: Record = []
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return fields }
        repeat {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw malformed("expected a field name") }
            let key = try string()
            // RFC 8259 §4 leaves duplicate names to the reader; two readers seeing different
            // values for one field is how smuggling starts, so a duplicate is refused.
            guard !fields.contains(where: { $0.key == key }) else { throw malformed("field \(key) appears twice in one record") }
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { throw malformed("expected : after a field name") }
            skipWhitespace()
            fields.append((key, try value(depth: 1)))
            skipWhitespace()
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { throw malformed("expected , or } in a record") }
        return fields
    }

    private mutating func value(depth: Int) throws(SenMLError) -> Value {
        guard let byte = peek else { throw malformed("unexpected end") }
        switch byte {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            try skipComposite(depth: depth)
            return .composite
        default: throw malformed("unexpected character")
        }
    }

    /// Skips a nested array or object, checking its grammar, at most `maxDepth` deep.
    private mutating func skipComposite(depth: Int) throws(SenMLError) {
        guard depth <= Self.maxDepth else { throw malformed("nested deeper than \(Self.maxDepth)") }
        let isObject = bytes[position] == UInt8(ascii: "{")
        let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        position += 1
        skipWhitespace()
        if take(close) { return }
        repeat {
            skipWhitespace()
            if isObject {
                guard peek == UInt8(ascii: "\"") else { throw malformed("expected a member name") }
                _ = try string()
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { throw malformed("expected : after a member name") }
                skipWhitespace()
            }
            _ = try value(depth: depth + 1)
            skipWhitespace()
        } while take(UInt8(ascii: ","))
        guard take(close) else { throw malformed("unterminated array or object") }
    }

    private mutating func literal(_ word: StaticString) throws(SenMLError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw malformed("unexpected end") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] { throw malformed("unexpected character") }
        position += count
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(SenMLError) -> Range<Int> {
        let start = position
        _ = take(UInt8(ascii: "-"))
        if take(UInt8(ascii: "0")) {
            // no leading zeros
        } else {
            guard digits() > 0 else { throw malformed("a number needs digits") }
        }
        if take(UInt8(ascii: ".")) { guard digits() > 0 else { throw malformed("a fraction needs digits") } }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            guard digits() > 0 else { throw malformed("an exponent needs digits") }
        }
        guard position - start <= 64 else { throw malformed("a number longer than 64 characters") }
        return start..<position
    }

    private mutating func digits() -> Int {
        let start = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
        return position - start
    }

    /// RFC 8259 §7: a string with its escapes resolved; must be valid UTF-8.
    private mutating func string() throws(SenMLError) -> String {
        position += 1 // opening quote
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                guard let text else { throw malformed("a string is not valid UTF-8") }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw malformed("a control character in a string") }
            position += 1
        }
        var unescaped = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: unescaped, as: UTF8.self) else { throw malformed("a string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard let escape = peek else { throw malformed("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
                case UInt8(ascii: "b"): unescaped.append(0x08)
                case UInt8(ascii: "f"): unescaped.append(0x0C)
                case UInt8(ascii: "n"): unescaped.append(0x0A)
                case UInt8(ascii: "r"): unescaped.append(0x0D)
                case UInt8(ascii: "t"): unescaped.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")) else { throw malformed("an unpaired surrogate") }
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw malformed("an unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw malformed("an unpaired surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw malformed("an invalid \\u escape") }
                    unescaped.append(contentsOf: String(Character(unicode)).utf8)
                default: throw malformed("an invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw malformed("a control character in a string") }
                unescaped.append(byte)
            }
        }
        throw malformed("unterminated string")
    }

    private mutating func hex4() throws(SenMLError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw malformed("a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    // MARK: - Bytes

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func malformed(_ what: String) -> SenMLError {
        SenMLError(.malformed, "not a SenML JSON pack: \(what) at byte \(position)")
    }
}
