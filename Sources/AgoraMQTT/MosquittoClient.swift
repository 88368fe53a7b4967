internal import CMosquitto
internal import Synchronization
internal import Dispatch
#if canImport(Glibc)
internal import Glibc
#endif

/// One libmosquitto client (`struct mosquitto *`), owned here and destroyed in `deinit`.
///
/// Drives libmosquitto from a network thread of its own (`mosquitto_loop_read`, `_write`,
/// `_misc` around a `poll` of its socket) that reconnects with capped exponential back-off
/// (1 s doubling to 30 s) for as long as the client runs. libmosquitto's
/// `mosquitto_loop_start` was not used: its loop gives up for good when a TLS connection
/// breaks (a broker restart ends it with a TLS error), which would leave the gateway deaf.
/// Messages arrive on the network thread and go straight to `onMessage`, which must not
/// block: the ingester hands them to a bounded queue.
/// Persistent session (clean session off) and QoS 1, so the broker keeps what arrives
/// while Agora is away.
///
/// Acknowledged only once durable: libmosquitto 2.0 queues a QoS 1 PUBACK before it hands
/// the message to `onMessage` and has no manual acknowledgement, but in threaded mode it
/// writes nothing until the loop calls `mosquitto_loop_write`. So after each read the loop
/// asks `durable` to wait until everything read so far is stored (the ingester's group
/// commit, milliseconds), and only then writes — the PUBACKs, and with them any publishes
/// and pings queued meanwhile. A crash before that leaves the messages unacknowledged in
/// the broker's persistent session, which delivers them again (at least once, as QoS 1
/// promises). While the store cannot write (a full disk) nothing is acknowledged: the
/// broker holds up to its inflight limit unacknowledged and queues the rest.
public final class MosquittoClient: @unchecked Sendable {
    // @unchecked: libmosquitto's threaded mode locks its own state; `handle` is set once and
    // freed in deinit; the closures are immutable after init.
    private let handle: OpaquePointer
    private let onMessage: @Sendable (_ topic: String, _ payload: UnsafeRawBufferPointer) -> Void
    private let onConnect: @Sendable (_ result: Int32) -> Void
    private let onDisconnect: @Sendable (_ result: Int32) -> Void
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(false)
    private let durable: (@Sendable (_ stillWaiting: () -> Bool) -> Bool)?

    public struct TLS: Sendable {
        public var caFile: String
        public var certificateFile: String
        public var keyFile: String
        public init(caFile: String, certificateFile: String, keyFile: String) {
            self.caFile = caFile; self.certificateFile = certificateFile; self.keyFile = keyFile
        }
    }

    private static let library: Void = { mosquitto_lib_init() }()

    public init(clientID: String, tls: TLS,
                onConnect: @escaping @Sendable (Int32) -> Void,
                onDisconnect: @escaping @Sendable (Int32) -> Void,
                durable: (@Sendable (_ stillWaiting: () -> Bool) -> Bool)? = nil,
                onMessage: @escaping @Sendable (String, UnsafeRawBufferPointer) -> Void) throws(MQTTError) {
        _ = Self.library
        guard let handle = mosquitto_new(clientID, false, nil) else { throw MQTTError(code: MOSQ_ERR_NOMEM.rawValue, operation: "mosquitto_new") }
        self.handle = handle
        self.onMessage = onMessage
        self.onConnect = onConnect
        self.onDisconnect = onDisconnect
        self.durable = durable
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try MQTTError.check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(MQTT_PROTOCOL_V311)), "protocol version")
        try MQTTError.check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil), "tls_set")
        // Publishes come from other threads than the network loop.
        try MQTTError.check(mosquitto_threaded_set(handle, true), "threaded_set")
        mosquitto_connect_callback_set(handle) { _, context, result in
            MosquittoClient.client(context)?.onConnect(result)
        }
        mosquitto_disconnect_callback_set(handle) { _, context, result in
            MosquittoClient.client(context)?.onDisconnect(result)
        }
        mosquitto_message_callback_set(handle) { _, context, message in
            guard let client = MosquittoClient.client(context), let message, let topic = message.pointee.topic else { return }
            let payload = UnsafeRawBufferPointer(start: message.pointee.payload, count: Int(message.pointee.payloadlen))
            client.onMessage(String(cString: topic), payload)
        }
    }

    deinit {
        mosquitto_destroy(handle)
    }

    private static func client(_ context: UnsafeMutableRawPointer?) -> MosquittoClient? {
        context.map { Unmanaged<MosquittoClient>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Sets the last will (published by the broker if the connection dies).
    public func will(topic: String, payload: String, retain: Bool) throws(MQTTError) {
        try MQTTError.check(mosquitto_will_set(handle, topic, Int32(payload.utf8.count), payload, 1, retain), "will_set")
    }

    /// Starts connecting (and reconnecting) on the client's network thread.
    public func start(host: String, port: Int, keepalive: Int32 = 30) throws(MQTTError) {
        guard running.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else { return }
        let thread = NetworkThread { [self] in self.loop(host: host, port: port, keepalive: keepalive) }
        thread.start()
    }

    private func loop(host: String, port: Int, keepalive: Int32) {
        var connected = false
        var everConnected = false
        var delay: UInt32 = 1
        while !stopping.load(ordering: .sequentiallyConsistent) {
            if !connected {
                let rc = everConnected ? mosquitto_reconnect(handle) : mosquitto_connect(handle, host, Int32(port), keepalive)
                if rc == MOSQ_ERR_SUCCESS.rawValue {
                    connected = true
                    everConnected = true
                    delay = 1
                } else {
                    onDisconnect(rc)
                    pause(seconds: delay)
                    delay = min(delay * 2, 30)
                    continue
                }
            }
            let rc = serviceConnection()
            if rc != MOSQ_ERR_SUCCESS.rawValue, !stopping.load(ordering: .sequentiallyConsistent) {
                connected = false
                pause(seconds: delay)
                delay = min(delay * 2, 30)
            }
        }
        // Let the final acknowledgements, publish and DISCONNECT leave — once what they
        // acknowledge is durable (the ingester is still running: it stops after this client).
        // If that takes longer than 10 s, leave without them: the broker delivers again.
        let deadline = ContinuousClock.now + .seconds(10)
        if durable?({ ContinuousClock.now < deadline }) ?? true {
            for _ in 0..<5 where mosquitto_want_write(handle) { _ = mosquitto_loop_write(handle, 1); usleep(10_000) }
        }
        finished.signal()
    }

    /// One round on a connected socket: read what the broker sent (at most 20 ms of waiting,
    /// which is also how soon a publish from another thread leaves), wait until it is
    /// durable, then write, then keep-alive.
    private func serviceConnection() -> Int32 {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN) | (mosquitto_want_write(handle) ? Int16(POLLOUT) : 0), revents: 0)
        let ready = poll(&descriptor, 1, 20)
        if ready < 0, errno != EINTR { return MOSQ_ERR_ERRNO.rawValue }
        if ready > 0, descriptor.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
            // One loop_read takes about one TLS record (one packet); read on while the socket
            // has more, so one wait for durability covers a whole burst (up to the broker's
            // inflight window) instead of a single message.
            var reads = 0
            repeat {
                let rc = mosquitto_loop_read(handle, 1)
                guard rc == MOSQ_ERR_SUCCESS.rawValue else { return rc }
                reads += 1
                descriptor.revents = 0
            } while reads < 4096 && poll(&descriptor, 1, 0) > 0 && descriptor.revents & Int16(POLLIN) != 0
        }
        if mosquitto_want_write(handle) {
            if let durable, !durable({ !stopping.load(ordering: .sequentiallyConsistent) }) { return MOSQ_ERR_SUCCESS.rawValue }
            let rc = mosquitto_loop_write(handle, 1)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { return rc }
        }
        return mosquitto_loop_misc(handle)
    }

    /// Sleeps up to `seconds`, waking early when the client stops.
    private func pause(seconds: UInt32) {
        for _ in 0..<(seconds * 10) where !stopping.load(ordering: .sequentiallyConsistent) { usleep(100_000) }
    }

    public func subscribe(_ pattern: String, qos: Int32 = 1) throws(MQTTError) {
        try MQTTError.check(mosquitto_subscribe(handle, nil, pattern, qos), "subscribe \(pattern)")
    }

    public func publish(_ topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) throws(MQTTError) {
        let code = payload.withUnsafeBytes { mosquitto_publish(handle, nil, topic, Int32($0.count), $0.baseAddress, qos, retain) }
        try MQTTError.check(code, "publish \(topic)")
    }

    /// Disconnects cleanly (no last will) and waits for the network thread to end.
    public func stop() {
        guard running.load(ordering: .sequentiallyConsistent), !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        mosquitto_disconnect(handle)
        finished.wait()
    }
}

/// A detached pthread running one closure (the client's network loop).
private final class NetworkThread: Sendable {
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<NetworkThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, context)
        precondition(code == 0, "cannot start the MQTT network thread (pthread_create: \(code))")
        pthread_detach(thread)
    }
}
