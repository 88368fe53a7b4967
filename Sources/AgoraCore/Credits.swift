/// An amount of credits, the gateway's unit of account.
///
/// Never negative, and capped at 10^15 so that every amount and every sum of two
/// amounts stays exact in a JSON number read as an IEEE double (2^53 ≈ 9·10^15), which
/// is how most ledger auditors outside Swift will read the entries.
public struct Credits: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let value: UInt64

    public static let max = Credits(unchecked: 1_000_000_000_000_000)
    public static let zero = Credits(unchecked: 0)

    public init(_ value: UInt64) throws(InvalidInput) {
        guard value <= Self.max.value else {
            throw .outOfRange("amount", reason: "at most \(Self.max.value) credits")
        }
        self.value = value
    }

    /// Parses a decimal amount as typed on a command line: digits only, no sign.
    public init(parsing text: String) throws(InvalidInput) {
        guard !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let value = UInt64(text)
        else {
            if text.hasPrefix("-") {
                throw .malformed("amount", text, reason: "amounts cannot be negative")
            }
            throw .malformed("amount", text, reason: "expected a whole number of credits, at most \(Self.max.value)")
        }
        try self.init(value)
    }

    init(unchecked value: UInt64) { self.value = value }

    /// `self + other`, or nil when the sum would pass `Credits.max`.
    public func adding(_ other: Credits) -> Credits? {
        let (sum, overflow) = value.addingReportingOverflow(other.value)
        guard !overflow, sum <= Self.max.value else { return nil }
        return Credits(unchecked: sum)
    }

    /// `self - other`, or nil when `other` is larger.
    public func subtracting(_ other: Credits) -> Credits? {
        guard other.value <= value else { return nil }
        return Credits(unchecked: value - other.value)
    }

    /// `self × factor`, or nil when the product would pass `Credits.max`.
    public func multiplied(by factor: UInt64) -> Credits? {
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow, product <= Self.max.value else { return nil }
        return Credits(unchecked: product)
    }

    public var description: String { String(value) }
    public static func < (lhs: Credits, rhs: Credits) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(UInt64.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
