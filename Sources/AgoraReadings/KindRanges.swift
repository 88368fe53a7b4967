/// The physical range of each kind of sensor, in the unit SenML (RFC 8428 §12.1) gives it: a
/// reading outside it is a fault of the sensor, not of the world. Used by `DeliveryFigures`.
///
/// Defaults for common city sensors, overridable with `[trust] ranges`
/// (`kind=low..high`, comma-separated); a kind without a range is not checked.
public struct KindRanges: Hashable, Sendable {
    public private(set) var ranges: [String: ClosedRange<Double>]

    public static let defaults = KindRanges(ranges: [
        "temperature": -60...70,        // Cel
        "humidity": 0...100,            // %RH
        "pm25": 0...1_000,              // ug/m3
        "pm10": 0...2_000,              // ug/m3
        "no2": 0...2_000,               // ug/m3
        "o3": 0...1_000,                // ug/m3
        "co2": 0...10_000,              // ppm
        "noise": 0...140,               // dB(A)
        "pressure": 30_000...110_000,   // Pa
        "wind": 0...100,                // m/s
        "rain": 0...500,                // mm/h
        "light": 0...200_000,           // lx
    ])

    public init(ranges: [String: ClosedRange<Double>]) { self.ranges = ranges }

    public func range(of kind: String) -> ClosedRange<Double>? { ranges[kind] }

    /// Adds or replaces ranges from `kind=low..high,kind=low..high`; nil when malformed.
    public func overriding(with text: String) -> KindRanges? {
        var copy = self
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let kind = String(parts[0].filter { !$0.isWhitespace })
            let bounds = String(parts[1].filter { !$0.isWhitespace })
            guard !kind.isEmpty, let dots = bounds.firstRange(of: ".."),
                  let low = Double(bounds[..<dots.lowerBound]), let high = Double(bounds[dots.upperBound...]),
                  low.isFinite, high.isFinite, low <= high
            else { return nil }
            copy.ranges[kind] = low...high
        }
        return copy
    }
}
