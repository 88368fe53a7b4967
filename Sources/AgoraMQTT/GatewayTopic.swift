public import AgoraCore

/// An MQTT topic the gateway subscribes to, parsed once when the message arrives (on the
/// network thread) and carried with it from then on.
///
/// ```
/// <prefix>/sensors/<id>/senml     a sensor's SenML pack       → .readings(id)
/// <prefix>/pair/<id>/request      a pairing request           → .pairingRequest(id)
/// <prefix>/gateway/probe          the gateway's own probe     → .probe
/// ```
/// The prefix may itself hold `/` (`city/agora`). A readings topic whose id is not a valid
/// `SensorID`, and any other topic, is `.unexpected`, kept verbatim for the log line that
/// reports it. A pairing id stays text: the pairing service validates it and answers why.
public enum GatewayTopic: Sendable, Hashable {
    case readings(SensorID)
    case pairingRequest(String)
    /// The gateway's own message, come back (see `SubscriptionTracker`).
    case probe
    case unexpected(String)

    public init(_ topic: String, prefix: String) {
        if topic == Self.probe(prefix: prefix) {
            self = .probe
            return
        }
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        let prefixParts = prefix.split(separator: "/", omittingEmptySubsequences: false)
        let base = prefixParts.count
        guard parts.count == base + 3, parts[..<base].elementsEqual(prefixParts) else {
            self = .unexpected(topic)
            return
        }
        let id = String(parts[base + 1])
        switch (parts[base], parts[base + 2]) {
        case ("sensors", "senml"):
            if let sensor = try? SensorID(id) { self = .readings(sensor) } else { self = .unexpected(topic) }
        case ("pair", "request") where !id.isEmpty:
            self = .pairingRequest(id)
        default:
            self = .unexpected(topic)
        }
    }

    /// The topic of a sensor's readings (what the gateway subscribes to, with `+` for the id).
    public static func readingsFilter(prefix: String) -> String { "\(prefix)/sensors/+/senml" }
    /// The topic of pairing requests, with `+` for the id.
    public static func pairingRequestFilter(prefix: String) -> String { "\(prefix)/pair/+/request" }
    /// Where the gateway publishes, and subscribes to, its delivery probe.
    public static func probe(prefix: String) -> String { "\(prefix)/gateway/probe" }
    /// Where the answer to a pairing request goes.
    public static func pairingResponse(prefix: String, id: String) -> String { "\(prefix)/pair/\(id)/response" }
}
