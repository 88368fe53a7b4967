internal import FoundationEssentials

/// A point in time with one-second resolution, written as RFC 3339 UTC (`2026-11-22T10:00:00Z`).
///
/// Ledger entries and purchase windows use whole seconds: a window is sold by the hour,
/// and second precision keeps every entry's text canonical (one way to write each time).
public struct Timestamp: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public let seconds: Int64

    /// The years RFC 3339 text here may name; keeps arithmetic far from overflow.
    public static let validRange: ClosedRange<Int64> = 0...253_402_300_799 // 1970 … 9999-12-31T23:59:59Z

    public init(seconds: Int64) throws(ValidationError) {
        guard Self.validRange.contains(seconds) else {
            throw .outOfRange("time", reason: "must lie between 1970 and 9999")
        }
        self.seconds = seconds
    }

    public static func now() -> Timestamp {
        let seconds = Int64(Date().timeIntervalSince1970.rounded(.down))
        return Timestamp(unchecked: seconds)
    }

    init(unchecked seconds: Int64) { self.seconds = seconds }

    /// Parses RFC 3339 (`2026-11-22T10:00:00Z`, `…+02:00`, fractional seconds truncated).
    public init(rfc3339 text: String) throws(ValidationError) {
        guard text.utf8.count <= 40 else {
            throw .malformed("time", text, reason: "expected RFC 3339, e.g. 2026-11-22T10:00:00Z")
        }
        let plain = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = (try? plain.parse(text)) ?? (try? fractional.parse(text)) else {
            throw .malformed("time", text, reason: "expected RFC 3339, e.g. 2026-11-22T10:00:00Z")
        }
        try self.init(seconds: Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    public var rfc3339: String {
        Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
    }

    public var description: String { rfc3339 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.seconds < rhs.seconds }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(rfc3339: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}
