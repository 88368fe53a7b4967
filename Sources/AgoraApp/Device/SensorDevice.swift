public import AgoraCore
internal import AgoraMQTT
internal import FoundationEssentials
internal import X509
#if canImport(Glibc)
internal import Glibc
#endif

/// `agora device pair`: a reference sensor for the pairing protocol (DESIGN.md "MQTT:
/// pairing and ingestion"), to pair real hardware against, demo, and test the gateway with.
///
/// Makes a key and CSR on the device, proves the one-time code (`PairingRequest`), and runs
/// the exchange (`PairingExchange`) over the broker's pairing listener — TLS that verifies the
/// broker, no client certificate — then writes the identity (`DeviceFiles`). Nothing is
/// written unless the gateway issued a certificate for this device's key.
public enum SensorDevice {
    public struct Pairing: Sendable {
        public var sensor: SensorID
        /// The one-time code as typed.
        public var code: String
        public var broker: BrokerAddress
        /// The CA the broker's certificate must chain to.
        public var caFile: String
        public var prefix: String
        public var timeout: Duration
        public var files: DeviceFiles

        public init(sensor: SensorID, code: String, broker: BrokerAddress, caFile: String, prefix: String = "agora",
                    timeout: Duration = .seconds(30), files: DeviceFiles) {
            self.sensor = sensor; self.code = code; self.broker = broker; self.caFile = caFile
            self.prefix = prefix; self.timeout = timeout; self.files = files
        }
    }

    /// What pairing wrote.
    public struct Paired: Sendable {
        public var files: DeviceFiles
        public var serial: String
        public var expires: Timestamp
    }

    public static func pair(_ pairing: Pairing) async throws(DeviceError) -> Paired {
        let request = try PairingRequest(sensor: pairing.sensor, code: pairing.code)
        guard access(pairing.caFile, R_OK) == 0 else { throw .file(pairing.caFile, String(cString: strerror(errno))) }
        let made = try pairing.files.prepare()
        do {
            let response = try await exchange(request, pairing)
            return try store(response, of: request, in: pairing.files)
        } catch {
            pairing.files.discard(made: made)
            throw error
        }
    }

    private enum Event: Sendable {
        case connection(DeviceConnection.Event)
        case deadline
    }

    /// Connects, subscribes, sends the request and waits for the answer or the deadline.
    private static func exchange(_ request: PairingRequest, _ pairing: Pairing) async throws(DeviceError) -> PairingResponder.Response {
        let payload = try request.payload()
        let requestTopic = "\(pairing.prefix)/pair/\(pairing.sensor)/request"
        let responseTopic = GatewayTopic.pairingResponse(prefix: pairing.prefix, id: pairing.sensor.rawValue)
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        // A persistent session, so that an answer sent while the connection is down waits at the broker.
        let connection = try DeviceConnection(clientID: DeviceConnection.anonymousClientID("pair-\(pairing.sensor)"), address: pairing.broker,
                                              tls: .init(caFile: pairing.caFile, certificateFile: nil, keyFile: nil),
                                              listener: .pairing) { sink.yield(.connection($0)) }
        var exchange = PairingExchange(responseTopic: responseTopic, address: pairing.broker)
        var outcome: Result<PairingResponder.Response, DeviceError> = .failure(.noAnswer(topic: responseTopic, seconds: pairing.timeout.components.seconds))
        try connection.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: pairing.timeout)
                sink.yield(.deadline)
            }
            loop: for await event in events {
                let action: PairingExchange.Action
                switch event {
                case .deadline: action = exchange.timedOut(after: pairing.timeout.components.seconds)
                case .connection(.connected): action = exchange.connected()
                case .connection(.failed(let error, let everConnected)): action = exchange.failed(error, everConnected: everConnected)
                case .connection(.subscribed(let id, let granted)): action = exchange.subscribed(messageID: id, granted: granted)
                case .connection(.message(let topic, let payload)): action = exchange.received(topic: topic, payload: payload)
                case .connection(.acknowledged): action = .wait
                }
                do throws(DeviceError) {
                    switch action {
                    case .wait:
                        continue
                    case .subscribe:
                        exchange.subscribeSent(messageID: try connection.subscribe(responseTopic))
                    case .publishRequest:
                        exchange.requestSent(try connection.publish(requestTopic, payload: payload) != nil)
                    case .succeed(let response):
                        outcome = .success(response)
                        break loop
                    case .fail(let error):
                        outcome = .failure(error)
                        break loop
                    }
                } catch {
                    outcome = .failure(error)
                    break loop
                }
            }
            group.cancelAll()
        }
        await connection.stop()
        return try outcome.get()
    }

    /// Checks that the certificate is this device's and writes the identity.
    private static func store(_ response: PairingResponder.Response, of request: PairingRequest, in files: DeviceFiles) throws(DeviceError) -> Paired {
        guard let chain = response.cert, let ca = response.ca else { throw .badResponse("status ok without cert and ca") }
        let certificate = try DeviceFiles.firstCertificate(in: chain, source: "the pairing response")
        guard request.isCertified(by: certificate) else { throw .badResponse("its certificate is not for this device's key") }
        guard let expires = try? Timestamp(seconds: Int64(certificate.notValidAfter.timeIntervalSince1970)) else {
            throw .badResponse("its certificate's expiry is out of range")
        }
        let serial = Hex.encode(certificate.serialNumber.bytes) // as `agora ca list` prints it
        do { try files.write(keyPEM: try request.keyPEM(), chainPEM: chain, caPEM: ca) } catch {
            // Too late to take back: the gateway has registered the sensor and spent the code.
            throw DeviceError(error.code, "\(error.description); the gateway has paired the sensor nonetheless, with a certificate (serial \(serial)) whose key is lost: have it revoked (agora ca revoke)")
        }
        return Paired(files: files, serial: serial, expires: expires)
    }
}
