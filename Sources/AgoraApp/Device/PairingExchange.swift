internal import AgoraCore

/// The device's side of one pairing exchange, as a plain state machine: it takes what the
/// broker connection reports and returns what to do next; `SensorDevice` performs the actions.
///
/// The order matters: subscribe to `<prefix>/pair/<id>/response` first and send the request
/// only once the broker has granted the subscription (SUBACK). The gateway answers within
/// milliseconds and its answer is not retained, so a request sent earlier could be answered
/// before anyone listens, and the device would wait for ever.
///
/// Responses carry no correlation id: anyone may send a request for this id, and the gateway
/// answers each on the same topic. A response that arrives before this device's request went
/// out is not taken for its answer; one after it is.
struct PairingExchange {
    enum Action: Equatable {
        case subscribe
        case publishRequest
        case wait
        case succeed(PairingResponder.Response)
        case fail(DeviceError)
    }

    private enum State: Equatable {
        case connecting
        case subscribing(messageID: Int32?)
        case requested
        case finished
    }

    let responseTopic: String
    let address: BrokerAddress
    private var state = State.connecting
    /// The latest failure after a connection had succeeded: the client reconnects, and if
    /// no answer comes in time this says why.
    private var lastFailure: DeviceError?
    private var isConnected = false

    init(responseTopic: String, address: BrokerAddress) {
        self.responseTopic = responseTopic
        self.address = address
    }

    /// The broker accepted the connection (the first time, or again after a drop).
    mutating func connected() -> Action {
        isConnected = true
        switch state {
        case .connecting, .subscribing:
            // A reconnect before the SUBACK: subscribe again (the broker takes a repeat).
            state = .subscribing(messageID: nil)
            return .subscribe
        case .requested, .finished:
            // The session is persistent: the subscription survived, and the broker keeps the
            // answer for this client while it is away.
            return .wait
        }
    }

    /// The SUBSCRIBE left with `messageID`, or could not (nil: the connection dropped
    /// meanwhile, and the next `connected` subscribes again).
    mutating func subscribeSent(messageID: Int32?) {
        guard case .subscribing = state else { return }
        state = messageID.map { .subscribing(messageID: $0) } ?? .connecting
    }

    /// The SUBACK. Granted: now send the request.
    mutating func subscribed(messageID: Int32, granted: [Int32]) -> Action {
        guard state == .subscribing(messageID: messageID) else { return .wait }
        guard let qos = granted.first, (0...2).contains(qos) else {
            state = .finished
            return .fail(.brokerRefused(address, "it does not let this device read \(responseTopic); is this the pairing listener of a broker set up by agora broker-config?"))
        }
        return .publishRequest
    }

    /// The request is on its way (or could not leave: the connection dropped meanwhile, and
    /// the next `connected` starts over with the subscription).
    mutating func requestSent(_ sent: Bool) {
        state = sent ? .requested : .connecting
    }

    mutating func received(topic: String, payload: [UInt8]) -> Action {
        guard state == .requested, topic == responseTopic else { return .wait }
        state = .finished
        let response: PairingResponder.Response
        do { response = try CanonicalJSON.decode(PairingResponder.Response.self, from: payload) } catch {
            return .fail(.badResponse("not a pairing response: \(CanonicalJSON.summary(of: error))"))
        }
        switch response.status {
        case "ok":
            guard response.cert != nil, response.ca != nil else { return .fail(.badResponse("status ok without cert and ca")) }
            return .succeed(response)
        case "error":
            return .fail(.refused(response.reason ?? "no reason given"))
        default:
            return .fail(.badResponse("unknown status \(response.status)"))
        }
    }

    /// A connection attempt or the connection failed. Before any success that is the answer
    /// (a wrong port, TLS, nothing listening); afterwards the client reconnects by itself.
    mutating func failed(_ error: DeviceError, everConnected: Bool) -> Action {
        guard state != .finished else { return .wait }
        guard everConnected else {
            state = .finished
            return .fail(error)
        }
        lastFailure = error
        isConnected = false
        return .wait
    }

    mutating func timedOut(after seconds: Int64) -> Action {
        guard state != .finished else { return .wait }
        defer { state = .finished }
        if state == .requested, isConnected { return .fail(.noAnswer(topic: responseTopic, seconds: seconds)) }
        return .fail(lastFailure ?? .notConnected(address, seconds: seconds))
    }
}
