public import AgoraCore
public import ServiceLifecycle
internal import AgoraMQTT
internal import FoundationEssentials
internal import Synchronization
internal import X509

/// `agora device publish`: a paired sensor sending readings, as a `Service` so that SIGINT
/// and SIGTERM end it gracefully (what was sent is still waited for).
///
/// Connects to the broker's certificate listener with the identity `agora device pair` wrote
/// (`DeviceFiles`), and publishes each pack at QoS 1 on `<prefix>/sensors/<id>/senml`: the
/// lines of a file or standard input (`SenMLLineReader`), or simulated readings
/// (`SimulatedReadings`) once a period. A pack counts as delivered only at its PUBACK
/// (`PublishTally`); when the input ends (or `count` packs, or a signal) the publisher waits
/// up to `timeout` for the outstanding ones and throws unless every pack was acknowledged.
///
/// Before it connects with its certificate, the publisher checks that the listener is not
/// the pairing listener (`ListenerProbe`), where readings are acknowledged and dropped.
///
/// A pack the gateway would drop — not SenML, a reading from the far future — is reported
/// and not sent: the broker acknowledges whatever it is given, so a PUBACK alone would
/// claim a delivery that never becomes a reading. While the connection is down (the client
/// reconnects by itself) packs wait here and leave on the next connection.
public final class DevicePublisher: Service, Sendable {
    public enum Source: Sendable {
        /// One pack a line; `-` is standard input.
        case senml(path: String)
        case simulated(SimulatedReadings, every: Duration)
    }

    public struct Options: Sendable {
        public var sensor: SensorID
        public var broker: BrokerAddress
        public var prefix: String
        public var files: DeviceFiles
        public var source: Source
        /// Stop after this many packs; nil: at the end of the input (never, when simulating).
        public var count: Int?
        /// How long to wait for the first connection, and at the end for the PUBACKs.
        public var timeout: Duration

        public init(sensor: SensorID, broker: BrokerAddress, prefix: String = "agora", files: DeviceFiles, source: Source,
                    count: Int? = nil, timeout: Duration = .seconds(30)) {
            self.sensor = sensor; self.broker = broker; self.prefix = prefix; self.files = files
            self.source = source; self.count = count; self.timeout = timeout
        }
    }

    /// What the publisher has to say while it runs, for the CLI to print.
    public enum Report: Sendable {
        /// The broker's PUBACK for the pack numbered `pack` (1, 2, … in the order taken).
        case acknowledged(pack: Int)
        /// Something that went wrong and was survived: a dropped connection, a line not sent.
        case notice(String)
        /// The last word: what was published and acknowledged.
        case summary(String)
    }

    let options: Options
    let report: @Sendable (Report) -> Void

    /// Checks the identity in `options.files` before anything connects: all three files
    /// readable, and the certificate issued to `options.sensor` (the broker takes its CN as
    /// the sensor's name, and its ACL would silently drop packs published for another id).
    public init(_ options: Options, report: @escaping @Sendable (Report) -> Void) throws(DeviceError) {
        let certificate = try options.files.loadCertificate()
        let names = certificate.subject.flatMap { $0.filter { $0.type == .RDNAttributeType.commonName }.map { String(describing: $0.value) } }
        guard names == [options.sensor.rawValue] else {
            throw .wrongIdentity(options.files.certificate, holds: names.first.map { "CN=\($0)" } ?? "no CN", expected: options.sensor.rawValue)
        }
        self.options = options
        self.report = report
    }

    public func run() async throws {
        try await publish()
    }

    private enum Event: Sendable {
        case connection(DeviceConnection.Event)
        case pack([UInt8])
        case invalid(line: Int, reason: String)
        case endOfInput
        case sourceFailed(DeviceError)
        case connectDeadline
        case drainDeadline
        case shutdown
    }

    /// Tells the source to stop taking packs (the publisher is draining).
    private final class StopFlag: Sendable {
        private let stopped = Atomic(false)
        var isSet: Bool { stopped.load(ordering: .relaxed) }
        func set() { stopped.store(true, ordering: .relaxed) }
    }

    func publish() async throws(DeviceError) {
        let options = self.options, report = self.report
        let seconds = options.timeout.components.seconds
        let topic = "\(options.prefix)/sensors/\(options.sensor)/senml"
        guard try await !ListenerProbe.acceptsAnonymousClients(at: options.broker, caFile: options.files.ca, timeout: options.timeout) else {
            throw .pairingListener(options.broker)
        }
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        // The broker replaces the id with the certificate's CN; it only has to carry the prefix.
        let connection = try DeviceConnection(
            clientID: BrokerConfiguration.clientIDPrefix + options.sensor.rawValue, address: options.broker,
            tls: .init(caFile: options.files.ca, certificateFile: options.files.certificate, keyFile: options.files.key),
            listener: .certificate) { sink.yield(.connection($0)) }
        try connection.start()

        var tally = PublishTally()
        var waiting: [(number: Int, payload: [UInt8])] = []
        var taken = 0
        var connected = false, started = false, draining = false
        var failure: DeviceError?
        let stop = StopFlag()

        /// Sends what waits, while there is a connection.
        func sendWaiting() throws(DeviceError) {
            while connected, let first = waiting.first {
                guard let id = try connection.publish(topic, payload: first.payload) else {
                    connected = false
                    return
                }
                tally.sent(pack: first.number, messageID: id)
                waiting.removeFirst()
            }
        }

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    try? await Task.sleep(for: options.timeout)
                    sink.yield(.connectDeadline)
                }
                func drain() {
                    guard !draining else { return }
                    draining = true
                    stop.set()
                    group.addTask {
                        try? await Task.sleep(for: options.timeout)
                        sink.yield(.drainDeadline)
                    }
                }
                loop: for await event in events {
                    do throws(DeviceError) {
                        switch event {
                        case .connection(.connected):
                            if started { report(.notice("reconnected to the broker at \(options.broker)")) }
                            connected = true
                            if !started {
                                started = true
                                group.addTask { await Self.produce(options, into: sink, until: stop) }
                            }
                            try sendWaiting()
                        case .connection(.failed(let error, let everConnected)):
                            guard everConnected else { throw error }
                            connected = false
                            report(.notice("not connected (reconnecting): \(error.description)"))
                        case .connection(.acknowledged(let id)):
                            if let pack = tally.acknowledge(messageID: id) { report(.acknowledged(pack: pack)) }
                        case .connection(.subscribed), .connection(.message):
                            break
                        case .pack(let payload):
                            guard !draining else { break }
                            taken += 1
                            waiting.append((taken, payload))
                            try sendWaiting()
                        case .invalid(let line, let reason):
                            tally.rejected()
                            report(.notice(DeviceError.invalidPack(line: line, reason).description))
                        case .endOfInput, .shutdown:
                            drain()
                        case .sourceFailed(let error):
                            throw error
                        case .connectDeadline:
                            if !started { throw .notConnected(options.broker, seconds: seconds) }
                        case .drainDeadline:
                            break loop
                        }
                    } catch {
                        failure = error
                        break loop
                    }
                    if draining, tally.unacknowledged == 0, waiting.isEmpty { break loop }
                }
                stop.set()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            sink.yield(.shutdown)
        }
        await connection.stop()
        if let failure { throw failure }
        let summary = tally.summary(held: waiting.count, waited: seconds)
        report(.summary(summary))
        guard tally.isComplete, waiting.isEmpty else { throw .notAllAcknowledged(summary) }
    }

    /// Feeds the packs of `options.source` into `sink` until the source ends, `count` packs
    /// were taken, or `stop` is set; then `.endOfInput`.
    private static func produce(_ options: Options, into sink: AsyncStream<Event>.Continuation, until stop: StopFlag) async {
        let limit = options.count ?? .max
        var taken = 0
        switch options.source {
        case .senml(let path):
            do {
                let reader = try SenMLLineReader(path: path)
                while !stop.isSet, taken < limit, let line = try await reader.next() {
                    do {
                        _ = try SenMLPack.decode(line, now: Int64((Date().timeIntervalSince1970 * 1e9).rounded()))
                        sink.yield(.pack(line))
                        taken += 1
                    } catch {
                        sink.yield(.invalid(line: reader.lineNumber, reason: error.description))
                    }
                }
            } catch let error as DeviceError {
                sink.yield(.sourceFailed(error))
                return
            } catch {
                return // cancelled: the publisher is finishing
            }
        case .simulated(var readings, let period):
            var next = ContinuousClock.now
            while !stop.isSet, taken < limit {
                sink.yield(.pack(readings.next()))
                taken += 1
                guard taken < limit else { break }
                next += period
                do { try await Task.sleep(until: next) } catch { return }
            }
        }
        sink.yield(.endOfInput)
    }
}
