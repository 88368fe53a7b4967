/// A latitude or longitude in decimal degrees, held as whole micro-degrees (six decimal
/// places, ≈ 0.1 m) so that the same location always encodes to the same JSON text.
public struct Coordinate: Hashable, Sendable, CustomStringConvertible, Codable {
    public let microdegrees: Int32

    public static func latitude(_ degrees: Double) throws(InvalidInput) -> Coordinate {
        try Coordinate(degrees: degrees, limit: 90, field: "latitude")
    }

    public static func longitude(_ degrees: Double) throws(InvalidInput) -> Coordinate {
        try Coordinate(degrees: degrees, limit: 180, field: "longitude")
    }

    private init(degrees: Double, limit: Double, field: String) throws(InvalidInput) {
        guard degrees.isFinite, abs(degrees) <= limit else {
            throw .outOfRange(field, reason: "must be between -\(Int(limit)) and \(Int(limit)) degrees")
        }
        self.microdegrees = Int32((degrees * 1_000_000).rounded())
    }

    public var degrees: Double { Double(microdegrees) / 1_000_000 }
    public var description: String { String(degrees) }

    public init(from decoder: any Decoder) throws {
        let degrees = try decoder.singleValueContainer().decode(Double.self)
        guard degrees.isFinite, abs(degrees) <= 180 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "coordinate out of range"))
        }
        self.microdegrees = Int32((degrees * 1_000_000).rounded())
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(degrees)
    }
}
