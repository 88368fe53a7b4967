/// The identifier of a sensor: the MQTT topic segment, the certificate SAN
/// (`urn:agora:sensor:<id>`) and the XEP-0323 node id all use it verbatim, so it is
/// restricted to characters that are safe in all three (no `/`, `+`, `#`, `:` or spaces).
public struct SensorID: Hashable, Sendable, Comparable, CustomStringConvertible, TextCodable {
    public let rawValue: String

    public static let maxLength = 64

    public init(_ text: String) throws(InvalidInput) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxLength else {
            throw .malformed("sensor id", text, reason: "must be 1…64 characters")
        }
        guard bytes[0].isASCIIAlphanumeric,
              bytes.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
        else {
            throw .malformed("sensor id", text, reason: "use letters, digits, '-', '_' or '.', starting with a letter or digit")
        }
        self.rawValue = text
    }

    public var description: String { rawValue }

    public static func < (lhs: SensorID, rhs: SensorID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(validating text: String) throws(InvalidInput) { try self.init(text) }
    public var text: String { rawValue }
}
