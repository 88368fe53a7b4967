/// Whether the broker has granted the gateway's subscriptions on the current connection.
///
/// A broker accepts a connection before it has made the client's subscriptions: between
/// CONNACK and SUBACK, and for good when its ACL refuses a filter, a sensor's QoS 1 reading
/// is acknowledged to the sensor and delivered to nobody (on a new gateway's first
/// connection, or a broker that lost its persistence, no session holds the subscription).
/// So "listening", what `/readyz` waits for, starts only when every SUBSCRIBE sent on this
/// connection has been acknowledged with a granted QoS. Mosquitto 2.0 grants an ACL-refused
/// filter to an MQTT 3.1.1 client and then delivers nothing; a broker that answers 0x80
/// (MQTT 3.1.1 §3.9.3) keeps the gateway not ready, and says so.
struct SubscriptionTracker: Sendable {
    private var pending: Set<Int32> = []
    private var refused = false
    private(set) var isListening = false

    /// What one SUBACK changed.
    enum Acknowledgement: Equatable {
        /// The last outstanding subscription was granted: the gateway now hears every reading.
        case nowListening
        /// The broker refused a filter (return code 0x80).
        case refused
        /// Nothing worth saying: more SUBACKs to come, or one for an earlier connection.
        case none
    }

    /// A new connection (or none): its subscriptions are not made yet.
    mutating func reset() { self = SubscriptionTracker() }

    /// A SUBSCRIBE with message id `id` has been queued on the current connection.
    mutating func sent(_ id: Int32) { pending.insert(id) }

    /// The SUBACK for message id `id`, with one granted QoS (or 0x80) per filter.
    mutating func acknowledged(_ id: Int32, granted: [Int32]) -> Acknowledgement {
        guard pending.remove(id) != nil else { return .none }
        if granted.isEmpty || granted.contains(where: { !(0...2).contains($0) }) {
            refused = true
            return .refused
        }
        guard pending.isEmpty, !refused, !isListening else { return .none }
        isListening = true
        return .nowListening
    }
}
