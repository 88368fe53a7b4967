/// Whether the broker delivers to the gateway on the current connection: its subscriptions
/// granted, and its own probe message come back.
///
/// A broker accepts a connection before it has made the client's subscriptions: between
/// CONNACK and SUBACK, and for good when its ACL refuses a filter, a sensor's QoS 1 reading
/// is acknowledged to the sensor and delivered to nobody (on a new gateway's first
/// connection, or a broker that lost its persistence, no session holds the subscription).
/// A broker that answers 0x80 (MQTT 3.1.1 §3.9.3) keeps the gateway not ready, and says so.
///
/// But Mosquitto 2.0 grants an ACL-refused filter to an MQTT 3.1.1 client and then delivers
/// nothing — which is what happens when `serve` is pointed at the pairing listener: it takes
/// no client certificate, so the broker does not know the gateway and its ACL lets it read
/// only pairing responses. So once every filter is granted the gateway publishes a random
/// nonce on `<prefix>/gateway/probe`, a topic under its own subscriptions, and it is
/// "listening" — what `/readyz` waits for — only when that nonce comes back.
struct SubscriptionTracker: Sendable {
    private var pending: Set<Int32> = []
    private var refused = false
    private var granted = false
    private var nonce: [UInt8]?
    private var probeSent: ContinuousClock.Instant?
    private var reportedSilence = false
    private(set) var isListening = false

    /// What one SUBACK changed.
    enum Acknowledgement: Equatable {
        /// The last outstanding subscription was granted: publish the probe (`probeSent`).
        case granted
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
    mutating func acknowledged(_ id: Int32, granted codes: [Int32]) -> Acknowledgement {
        guard pending.remove(id) != nil else { return .none }
        if codes.isEmpty || codes.contains(where: { !(0...2).contains($0) }) {
            refused = true
            return .refused
        }
        guard pending.isEmpty, !refused, !granted else { return .none }
        granted = true
        return .granted
    }

    /// The probe carrying `nonce` has been published on this connection at `time`.
    mutating func probeSent(_ nonce: [UInt8], at time: ContinuousClock.Instant) {
        self.nonce = nonce
        probeSent = time
    }

    /// A message on the probe topic: true when it is this connection's nonce and the
    /// gateway has just become listening.
    mutating func echo(_ payload: [UInt8]) -> Bool {
        guard !isListening, let nonce, payload == nonce else { return false }
        isListening = true
        return true
    }

    /// True once per connection, when the probe went out more than `limit` ago and has not
    /// come back: the moment to tell the operator the broker does not deliver to the gateway.
    mutating func probeIsOverdue(at now: ContinuousClock.Instant, limit: Duration) -> Bool {
        guard !isListening, !reportedSilence, let probeSent, now - probeSent > limit else { return false }
        reportedSilence = true
        return true
    }
}
