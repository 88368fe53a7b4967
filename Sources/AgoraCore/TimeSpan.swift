/// Lengths of time as operators type them: `90s`, `30m`, `24h`, `7d`, or plain seconds.
/// One parser for the CLI's `--ttl` and the XEP-0050 invitation form.
public enum TimeSpan {
    /// The span in seconds: positive and at most `maxSeconds`.
    public static func seconds(parsing text: String, field: String, maxSeconds: Int64) throws(InvalidInput) -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let (digits, unit) = text.last.flatMap { units[$0] }.map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard let value = Int64(digits), value > 0, value <= maxSeconds / unit else {
            throw .malformed(field, text, reason: "expected a duration like 30m, 24h or 7d, at most \(maxSeconds / 86_400) days")
        }
        return value * unit
    }
}
