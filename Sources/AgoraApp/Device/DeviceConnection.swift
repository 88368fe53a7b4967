internal import AgoraCore
internal import AgoraMQTT
internal import Synchronization
#if canImport(Glibc)
internal import Glibc
#endif

/// A device's connection to the broker: one `MosquittoClient` (which reconnects on its own),
/// its callbacks turned into `Event`s for the device's loop, and each failure explained
/// (`BrokerFailure`) rather than left as libmosquitto's result code.
///
/// Events arrive on the client's network thread; `events` must not block (the device loops
/// yield them into an `AsyncStream`).
final class DeviceConnection: Sendable {
    enum Event: Sendable {
        /// The broker accepted the connection (first or after a reconnect).
        case connected
        /// A connection attempt, or the connection, failed; the client tries again with
        /// back-off. `everConnected`: whether an earlier attempt had succeeded.
        case failed(DeviceError, everConnected: Bool)
        case subscribed(messageID: Int32, granted: [Int32])
        case message(topic: String, payload: [UInt8])
        /// The broker's PUBACK for a QoS 1 publish.
        case acknowledged(messageID: Int32)
    }

    let address: BrokerAddress
    private let client: MosquittoClient

    /// What the callbacks remember between one another, on the network thread.
    private struct Diagnostics {
        var errorLines: [String] = []
        var everConnected = false
        /// The CONNACK refused and was reported; the disconnect that follows says nothing new.
        var refusedByBroker = false
    }

    /// - Parameters:
    ///   - clientID: must begin with `BrokerConfiguration.clientIDPrefix` (the broker refuses
    ///     other ids on both listeners).
    ///   - listener: the listener the device means, for what a refusal means.
    ///   - cleanSession: false keeps the session at the broker between connections (what a
    ///     device wants: QoS 1 messages for it wait there while it reconnects).
    init(clientID: String, address: BrokerAddress, tls: MosquittoClient.TLS, listener: BrokerFailure.Listener, cleanSession: Bool = false,
         events: @escaping @Sendable (Event) -> Void) throws(DeviceError) {
        self.address = address
        let diagnostics = Mutex(Diagnostics())
        do {
            client = try MosquittoClient(
                clientID: clientID, tls: tls, cleanSession: cleanSession,
                onConnect: { result in
                    guard result == 0 else {
                        let before = diagnostics.withLock { state in
                            state.refusedByBroker = true
                            return state.everConnected
                        }
                        events(.failed(.brokerRefused(address, MQTTError.connackText(result)), everConnected: before))
                        return
                    }
                    diagnostics.withLock { state in
                        state.everConnected = true
                        state.errorLines = []
                    }
                    events(.connected)
                },
                onDisconnect: { result in
                    let systemError = errno
                    guard result != 0 else { return } // asked for: `stop`
                    let (lines, before, reported) = diagnostics.withLock { state in
                        defer { state.errorLines = []; state.refusedByBroker = false }
                        return (state.errorLines, state.everConnected, state.refusedByBroker)
                    }
                    guard !reported else { return }
                    let failure = BrokerFailure(result: result, systemError: systemError, errorLines: lines)
                    events(.failed(failure.error(listener: listener, address: address, caFile: tls.caFile), everConnected: before))
                },
                onSubscribe: { id, granted in events(.subscribed(messageID: id, granted: granted)) },
                onPublish: { id in events(.acknowledged(messageID: id)) },
                onErrorLog: { line in
                    diagnostics.withLock { state in state.errorLines = Array((state.errorLines + [line]).suffix(8)) }
                },
                onMessage: { topic, payload in events(.message(topic: topic, payload: Array(payload))) })
        } catch {
            throw .connectionFailed(address, error.description)
        }
    }

    /// A client id for a connection without a certificate: it must carry the broker's prefix
    /// (`BrokerConfiguration.clientIDPrefix`), and a random part keeps two devices, two
    /// attempts or a stranger from taking over one another's connection and session.
    static func anonymousClientID(_ purpose: String) -> String {
        BrokerConfiguration.clientIDPrefix + purpose + "-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) })
    }

    /// Starts connecting on the client's network thread; events follow.
    func start() throws(DeviceError) {
        do { try client.start(host: address.host, port: address.port) } catch { throw .connectionFailed(address, error.description) }
    }

    /// Sends a QoS 1 SUBSCRIBE and returns its id (`.subscribed` reports the SUBACK), or nil
    /// when there is no connection at this moment: the next `.connected` is the time to retry.
    func subscribe(_ topic: String) throws(DeviceError) -> Int32? {
        do { return try client.subscribe(topic) } catch {
            if error.code == MQTTError.notConnected { return nil }
            throw .connectionFailed(address, error.description)
        }
    }

    /// Sends a QoS 1 PUBLISH and returns its id (`.acknowledged` reports the PUBACK), or nil
    /// when there is no connection at this moment: the caller keeps the message for the next
    /// `.connected`.
    func publish(_ topic: String, payload: [UInt8]) throws(DeviceError) -> Int32? {
        do { return try client.publish(topic, payload: payload) } catch {
            if error.code == MQTTError.notConnected { return nil }
            throw .connectionFailed(address, error.description)
        }
    }

    /// Disconnects and waits for the network thread to end.
    func stop() async { await client.stop() }
}
