/// A fraction in [0, 1] written with at most three decimals ("0.875", "1", "0.05"), held as
/// an integer number of thousandths: how ratings carry satisfaction on the wire and on the
/// ledger, so the hashed bytes never depend on how a float was printed or rounded.
public enum Thousandths {
    /// Parses "0", "1", "0.5", "0.875", "1.000"; nil for anything else (more than three
    /// decimals, above 1, signs, exponents, spaces).
    public static func parse(_ text: String) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, whole == "0" || whole == "1" else { return nil }
        var value = whole == "1" ? 1000 : 0
        if parts.count == 2 {
            let decimals = parts[1]
            guard (1...3).contains(decimals.count), decimals.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            let padded = decimals + String(repeating: "0", count: 3 - decimals.count)
            value += Int(padded)!
        }
        return value <= 1000 ? value : nil
    }

    /// "0.875", "1", "0", "0.05": the shortest form `parse` reads back to the same value.
    public static func format(_ value: Int) -> String {
        let clamped = min(max(value, 0), 1000)
        guard clamped % 1000 != 0 else { return String(clamped / 1000) }
        var decimals = String(clamped % 1000)
        decimals = String(repeating: "0", count: 3 - decimals.count) + decimals
        while decimals.hasSuffix("0") { decimals.removeLast() }
        return "0." + decimals
    }
}
