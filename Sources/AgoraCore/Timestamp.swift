internal import FoundationEssentials

/// A point in time with one-second resolution, written as RFC 3339 UTC (`2026-11-22T10:00:00Z`).
///
/// Ledger entries and purchase windows use whole seconds: a window is sold by the hour,
/// and second precision keeps every entry's text canonical (one way to write each time).
public struct Timestamp: Hashable, Sendable, Comparable, CustomStringConvertible, TextCodable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public let seconds: Int64

    /// The years RFC 3339 text here may name; keeps arithmetic far from overflow.
    public static let validRange: ClosedRange<Int64> = 0...253_402_300_799 // 1970 … 9999-12-31T23:59:59Z

    public init(seconds: Int64) throws(InvalidInput) {
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
    public init(rfc3339 text: String) throws(InvalidInput) {
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

    /// The UTC calendar fields (civil-from-days, H. Hinnant's algorithm). Computed by hand
    /// because it runs three times per ledger entry and for every certificate and CRL date.
    public var components: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day), Int(secondOfDay / 3600), Int(secondOfDay % 3600 / 60), Int(secondOfDay % 60))
    }

    /// `YYYY-MM-DDThh:mm:ssZ` (the date-style formatter costs microseconds; parsing, which is
    /// rare, uses `ISO8601FormatStyle`).
    public var rfc3339: String {
        let c = components
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))Z"
    }

    /// `self` plus `days` whole days, clamped to `validRange`.
    public func adding(days: Int) -> Timestamp {
        Timestamp(unchecked: min(Self.validRange.upperBound, max(0, seconds + Int64(days) * 86_400)))
    }

    public var description: String { rfc3339 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.seconds < rhs.seconds }

    public init(validating text: String) throws(InvalidInput) { try self.init(rfc3339: text) }
    public var text: String { rfc3339 }
}
