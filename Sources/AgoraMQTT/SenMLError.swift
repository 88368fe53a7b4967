/// Why a SenML pack was dropped. Counted and logged (rate-limited) by the ingester;
/// nothing of the pack is stored.
public struct SenMLError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable { case tooLarge, malformed, tooManyRecords, badName, noValue, badValue, future, mustUnderstand }
    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) { self.code = code; self.description = description }

    public static func == (lhs: SenMLError, rhs: SenMLError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
