public import FoundationEssentials

/// The one JSON dialect Agora writes wherever bytes are hashed or compared: compact,
/// keys sorted, `/` not escaped. Encoding the same value twice gives the same bytes,
/// which is what replay and ledger hashing rely on.
public enum CanonicalJSON {
    /// A fresh encoder per use: measured faster than sharing one (which serialises on its options lock).
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }

    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try encoder.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try decoder.decode(type, from: Data(bytes))
    }

    /// A one-line description of a decoding failure, without echoing the input.
    public static func summary(of error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "malformed JSON" }
        switch decoding {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        case .keyNotFound(let key, _):
            return "missing field \(key.stringValue)"
        @unknown default:
            return "malformed JSON"
        }
    }
}
