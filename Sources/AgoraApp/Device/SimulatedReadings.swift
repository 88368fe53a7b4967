public import AgoraCore
internal import FoundationEssentials

/// Plausible readings of one kind, one SenML pack at a time, for `agora device publish
/// --simulate KIND`: a demo or a test gets data that looks like a city's without hardware.
///
/// Each value takes a small random step from the last, inside the range the kind has
/// outdoors, so a chart of them looks like a sensor's and not like noise. A pack is
/// `[{"bn":"<id>:","n":"<kind>","u":"<unit>","t":<seconds>,"v":<value>}]`: the gateway
/// stores the name `<id>:<kind>` (SenML §4.5.1 characters: a sensor id and a kind have
/// nothing else) with the unit, a SenML unit from RFC 8428 §12.1 or its registry.
public struct SimulatedReadings: Sendable {
    struct Kind: Sendable {
        var unit: String
        var range: ClosedRange<Double>
        var typical: Double
        /// The largest step from one reading to the next.
        var step: Double
    }

    static let kinds: [String: Kind] = [
        "pm25": Kind(unit: "ug/m3", range: 1...150, typical: 12, step: 1.5),
        "pm10": Kind(unit: "ug/m3", range: 2...250, typical: 20, step: 2.5),
        "no2": Kind(unit: "ug/m3", range: 2...200, typical: 30, step: 3),
        "o3": Kind(unit: "ug/m3", range: 2...240, typical: 60, step: 3),
        "co2": Kind(unit: "ppm", range: 400...2000, typical: 420, step: 10),
        "temperature": Kind(unit: "Cel", range: -25...45, typical: 15, step: 0.2),
        "humidity": Kind(unit: "%RH", range: 5...100, typical: 60, step: 1),
        "pressure": Kind(unit: "Pa", range: 95_000...105_000, typical: 101_325, step: 20),
        "noise": Kind(unit: "dB", range: 30...110, typical: 55, step: 3),
    ]

    /// The kinds there is a simulation for.
    public static var knownKinds: [String] { kinds.keys.sorted() }

    public let sensor: SensorID
    public let kind: String
    private let model: Kind
    private var value: Double

    public init(kind: String, sensor: SensorID) throws(DeviceError) {
        guard let model = Self.kinds[kind] else { throw .unknownKind(kind, known: Self.knownKinds) }
        self.sensor = sensor
        self.kind = kind
        self.model = model
        self.value = model.typical
    }

    /// The next reading as a pack, stamped now.
    mutating func next() -> [UInt8] { next(at: Date().timeIntervalSince1970) }

    /// The next reading as a pack, stamped `time` (seconds since 1970) in whole seconds: a
    /// Double near 1.8e9 cannot hold milliseconds exactly, and the gateway would store the
    /// error as nanoseconds (…183.746 → …183746000051).
    public mutating func next(at time: Double) -> [UInt8] {
        value = min(max(value + Double.random(in: -model.step...model.step), model.range.lowerBound), model.range.upperBound)
        let record = Record(bn: "\(sensor):", n: kind, u: model.unit, t: Int64(time.rounded(.down)), v: (value * 10).rounded() / 10)
        // Five strings and two finite numbers always encode.
        return (try? CanonicalJSON.encode([record])) ?? []
    }

    private struct Record: Encodable {
        var bn: String, n: String, u: String, t: Int64, v: Double
    }
}
