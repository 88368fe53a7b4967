/// A value that travels as one validated JSON string (a JID, a sensor id, an actor, a time).
///
/// Conforming types get `Codable` from their text form, so a malformed string in stored
/// or received JSON fails decoding with the same reason the constructor gives.
public protocol TextCodable: Codable {
    init(validating text: String) throws(InvalidInput)
    var text: String { get }
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Self(validating: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
