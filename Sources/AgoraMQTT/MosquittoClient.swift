internal import AgoraCore
internal import CMosquitto
internal import Synchronization
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
/// Persistent session (clean session off, unless asked) and QoS 1, so the broker keeps
/// what arrives while Agora is away.
///
/// Idle cost: the thread sleeps in `poll` on the socket and a wake-up pipe, at most a second
/// at a time (`mosquitto_loop_misc`, the keep-alive, wants calling about once a second);
/// `publish`, `subscribe` and `stop` write to the pipe, so what another thread queues leaves
/// at once without a short poll timeout. The back-off pause sleeps on the same pipe.
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
    // @unchecked, and why that is safe: every stored property is a `let`. `handle` is
    // created in init and freed in deinit, when no thread can use it (the network thread
    // holds a strong reference until it ends); libmosquitto's threaded mode
    // (`mosquitto_threaded_set`) locks its own state for the calls made from other threads
    // (`publish`, `subscribe`, `disconnect`). The closures are `@Sendable`; `stopping`,
    // `running` and `finish` are atomics or a Mutex; the wake-up pipe's descriptors are
    // fixed for the client's life and only read or written with single syscalls.
    private let handle: OpaquePointer
    private let onMessage: @Sendable (_ topic: String, _ payload: UnsafeRawBufferPointer) -> Void
    private let onConnect: @Sendable (_ result: Int32) -> Void
    private let onDisconnect: @Sendable (_ result: Int32) -> Void
    private let onSubscribe: @Sendable (_ messageID: Int32, _ grantedQoS: [Int32]) -> Void
    private let onPublish: (@Sendable (_ messageID: Int32) -> Void)?
    private let onErrorLog: (@Sendable (_ line: String) -> Void)?
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    /// Whether libmosquitto reported the end of the current connection attempt itself. It
    /// does not always: `mosquitto_connect` returns success while the TLS handshake is still
    /// under way (its socket is non-blocking once connected; `SSL_connect` wanted to read),
    /// finishes the handshake from `mosquitto_loop_read`, and a failure there returns
    /// `MOSQ_ERR_TLS` without the disconnect callback. The gateway then retried for ever in
    /// silence, without the TLS diagnosis (seen in CI: a broker certificate that does not
    /// name the host, reported by nothing for a minute).
    private let disconnectReported = Atomic<Bool>(false)
    /// Whether the broker accepted the current connection (CONNACK 0). The back-off starts
    /// over only then: `mosquitto_connect` "succeeds" before a TLS handshake it has not
    /// finished, so resetting on its return retried a refused handshake every second.
    private let accepted = Atomic<Bool>(false)
    private let finish = Mutex(Finish())
    private let durable: Durability?
    /// The network thread polls the read end with the socket; a write wakes it (a packet
    /// queued from another thread, or `stop`). libmosquitto's own threaded loop does the
    /// same with a socketpair that its API does not expose.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Whether the network thread has ended, and who waits for it.
    private struct Finish {
        var done = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// What the network thread waits on before it acknowledges what it has read.
    public struct Durability: Sendable {
        /// Blocks until everything read so far is durable (true), or until `stillWaiting`
        /// turns false or `deadline` passes (false).
        public var wait: @Sendable (_ deadline: ContinuousClock.Instant?, _ stillWaiting: () -> Bool) -> Bool
        /// Wakes a blocked `wait` so that it checks `stillWaiting` again.
        public var interrupt: @Sendable () -> Void

        public init(wait: @escaping @Sendable (ContinuousClock.Instant?, () -> Bool) -> Bool, interrupt: @escaping @Sendable () -> Void) {
            self.wait = wait; self.interrupt = interrupt
        }
    }

    /// The broker is verified against `caFile`. The client presents `certificateFile` and
    /// `keyFile` when both are given; without them it connects with server authentication
    /// only (a device on the pairing listener, which has no certificate yet).
    public struct TLS: Sendable {
        public var caFile: String
        public var certificateFile: String?
        public var keyFile: String?
        public init(caFile: String, certificateFile: String?, keyFile: String?) {
            self.caFile = caFile; self.certificateFile = certificateFile; self.keyFile = keyFile
        }
    }

    /// How long the idle network thread sleeps between `mosquitto_loop_misc` calls (which
    /// keep the connection alive); libmosquitto's own loop uses the same second.
    static let idleTimeoutMilliseconds: Int32 = 1000

    private static let library: Void = { mosquitto_lib_init() }()

    /// - Parameters:
    ///   - cleanSession: false (the gateway's choice) keeps the session, its subscriptions and
    ///     the QoS 1 messages queued for it, at the broker while the client is away.
    ///   - onPublish: called with a QoS 1 publish's message id (what `publish` returned) when
    ///     the broker's PUBACK arrives, on the network thread.
    ///   - onErrorLog: libmosquitto's error-level log lines, on the network thread. They carry
    ///     what its result codes do not: OpenSSL's reason for a TLS failure (e.g. "tlsv13
    ///     alert certificate required") or "host name verification failed".
    public init(clientID: String, tls: TLS, cleanSession: Bool = false,
                onConnect: @escaping @Sendable (Int32) -> Void,
                onDisconnect: @escaping @Sendable (Int32) -> Void,
                onSubscribe: @escaping @Sendable (_ messageID: Int32, _ grantedQoS: [Int32]) -> Void = { _, _ in },
                onPublish: (@Sendable (_ messageID: Int32) -> Void)? = nil,
                onErrorLog: (@Sendable (_ line: String) -> Void)? = nil,
                durable: Durability? = nil,
                onMessage: @escaping @Sendable (String, UnsafeRawBufferPointer) -> Void) throws(MQTTError) {
        _ = Self.library
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw MQTTError(code: MOSQ_ERR_ERRNO.rawValue, operation: "pipe") }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        guard let handle = mosquitto_new(clientID, cleanSession, nil) else {
            close(pipeEnds[0]); close(pipeEnds[1])
            throw MQTTError(code: MOSQ_ERR_NOMEM.rawValue, operation: "mosquitto_new")
        }
        self.handle = handle
        self.wakeRead = pipeEnds[0]
        self.wakeWrite = pipeEnds[1]
        self.onMessage = onMessage
        self.onConnect = onConnect
        self.onDisconnect = onDisconnect
        self.onSubscribe = onSubscribe
        self.onPublish = onPublish
        self.onErrorLog = onErrorLog
        self.durable = durable
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try MQTTError.check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(MQTT_PROTOCOL_V311)), "protocol version")
        try MQTTError.check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil), "tls_set")
        // Publishes come from other threads than the network loop.
        try MQTTError.check(mosquitto_threaded_set(handle, true), "threaded_set")
        mosquitto_connect_callback_set(handle) { _, context, result in
            guard let client = MosquittoClient.client(context) else { return }
            if result == 0 { client.accepted.store(true, ordering: .sequentiallyConsistent) }
            client.onConnect(result)
        }
        mosquitto_disconnect_callback_set(handle) { _, context, result in
            guard let client = MosquittoClient.client(context) else { return }
            client.disconnectReported.store(true, ordering: .sequentiallyConsistent)
            client.onDisconnect(result)
        }
        mosquitto_subscribe_callback_set(handle) { _, context, messageID, count, granted in
            guard let client = MosquittoClient.client(context) else { return }
            let qos = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(max(count, 0)))) } ?? []
            client.onSubscribe(messageID, qos)
        }
        if onPublish != nil {
            mosquitto_publish_callback_set(handle) { _, context, messageID in
                MosquittoClient.client(context)?.onPublish?(messageID)
            }
        }
        if onErrorLog != nil {
            mosquitto_log_callback_set(handle) { _, context, level, line in
                guard level & Int32(MOSQ_LOG_ERR) != 0, let client = MosquittoClient.client(context), let line else { return }
                client.onErrorLog?(String(cString: line))
            }
        }
        mosquitto_message_callback_set(handle) { _, context, message in
            guard let client = MosquittoClient.client(context), let message, let topic = message.pointee.topic else { return }
            let payload = UnsafeRawBufferPointer(start: message.pointee.payload, count: Int(message.pointee.payloadlen))
            client.onMessage(String(cString: topic), payload)
        }
    }

    deinit {
        mosquitto_destroy(handle)
        close(wakeRead)
        close(wakeWrite)
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

    private var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    private func loop(host: String, port: Int, keepalive: Int32) {
        var connected = false
        var everConnected = false
        var delay: Int32 = 1
        while !isStopping {
            if !connected {
                disconnectReported.store(false, ordering: .sequentiallyConsistent)
                accepted.store(false, ordering: .sequentiallyConsistent)
                let rc = everConnected ? mosquitto_reconnect(handle) : mosquitto_connect(handle, host, Int32(port), keepalive)
                if rc == MOSQ_ERR_SUCCESS.rawValue {
                    connected = true
                    everConnected = true
                } else {
                    onDisconnect(rc)
                    pause(seconds: delay)
                    delay = min(delay * 2, 30)
                    continue
                }
            }
            let rc = serviceConnection()
            if accepted.load(ordering: .sequentiallyConsistent) { delay = 1 }
            if rc != MOSQ_ERR_SUCCESS.rawValue, !isStopping {
                // Report what libmosquitto left unreported (see `disconnectReported`).
                if !disconnectReported.exchange(true, ordering: .sequentiallyConsistent) { onDisconnect(rc) }
                connected = false
                pause(seconds: delay)
                delay = min(delay * 2, 30)
            }
        }
        // Let the final acknowledgements, publish and DISCONNECT leave — once what they
        // acknowledge is durable (the ingester is still running: it stops after this client).
        // If that takes longer than 10 s, leave without them: the broker delivers again.
        let deadline = ContinuousClock.now + .seconds(10)
        if durable?.wait(deadline, { true }) ?? true {
            for _ in 0..<5 where mosquitto_want_write(handle) {
                // Wait (up to 10 ms) for room in the socket rather than sleeping blind.
                var descriptor = pollfd(fd: mosquitto_socket(handle), events: Int16(POLLOUT), revents: 0)
                guard descriptor.fd >= 0 else { break }
                _ = poll(&descriptor, 1, 10)
                _ = mosquitto_loop_write(handle, 1)
            }
        }
        let waiters = finish.withLock { finish in
            finish.done = true
            defer { finish.waiters = [] }
            return finish.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// One round on a connected socket: wait for the broker, a packet queued by another
    /// thread (the wake-up pipe) or a second to pass; read what the broker sent, wait until
    /// it is durable, then write, then keep-alive.
    private func serviceConnection() -> Int32 {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        var descriptors = [
            pollfd(fd: socket, events: Int16(POLLIN) | (mosquitto_want_write(handle) ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&descriptors, 2, Self.idleTimeoutMilliseconds)
        if ready < 0, errno != EINTR { return MOSQ_ERR_ERRNO.rawValue }
        if descriptors[1].revents != 0 { drainWakeups() }
        if ready > 0, descriptors[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
            // One loop_read takes about one TLS record (one packet); read on while the socket
            // has more, so one wait for durability covers a whole burst (up to the broker's
            // inflight window) instead of a single message.
            var descriptor = descriptors[0]
            var reads = 0
            repeat {
                let rc = mosquitto_loop_read(handle, 1)
                guard rc == MOSQ_ERR_SUCCESS.rawValue else { return rc }
                reads += 1
                descriptor.revents = 0
            } while reads < 4096 && poll(&descriptor, 1, 0) > 0 && descriptor.revents & Int16(POLLIN) != 0
        }
        if mosquitto_want_write(handle) {
            if let durable, !durable.wait(nil, { !self.isStopping }) { return MOSQ_ERR_SUCCESS.rawValue }
            let rc = mosquitto_loop_write(handle, 1)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { return rc }
        }
        return mosquitto_loop_misc(handle)
    }

    /// Wakes the network thread out of its `poll` (or its back-off pause).
    private func wake() {
        var byte: UInt8 = 1
        // Non-blocking: a full pipe already holds a wake-up, so a failed write loses nothing.
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// Sleeps up to `seconds`, waking early when the client stops.
    private func pause(seconds: Int32) {
        let end = ContinuousClock.now + .seconds(Int(seconds))
        while !isStopping {
            let left = ContinuousClock.now.duration(to: end)
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            guard milliseconds > 0 else { return }
            var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, Int32(milliseconds)) > 0 { drainWakeups() }
        }
    }

    /// Queues a SUBSCRIBE and returns its message id, which `onSubscribe` reports with the
    /// broker's SUBACK.
    @discardableResult
    public func subscribe(_ pattern: String, qos: Int32 = 1) throws(MQTTError) -> Int32 {
        var messageID: Int32 = 0
        try MQTTError.check(mosquitto_subscribe(handle, &messageID, pattern, qos), "subscribe \(pattern)")
        wake()
        return messageID
    }

    /// Queues a PUBLISH and returns its message id, which `onPublish` reports with the
    /// broker's PUBACK (QoS 1). A QoS 1 message sent but not yet acknowledged when the
    /// connection drops is sent again after the reconnect (libmosquitto retries its
    /// in-flight messages on CONNACK).
    @discardableResult
    public func publish(_ topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) throws(MQTTError) -> Int32 {
        var messageID: Int32 = 0
        let code = payload.withUnsafeBytes { mosquitto_publish(handle, &messageID, topic, Int32($0.count), $0.baseAddress, qos, retain) }
        try MQTTError.check(code, "publish \(topic)")
        wake()
        return messageID
    }

    /// Disconnects cleanly (no last will) and waits, suspended, for the network thread to
    /// end (at most about 10 s: see the loop's final flush).
    public func stop() async {
        guard running.load(ordering: .sequentiallyConsistent), !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        mosquitto_disconnect(handle)
        wake()
        durable?.interrupt()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = finish.withLock { finish -> Bool in
                if !finish.done { finish.waiters.append(continuation) }
                return finish.done
            }
            if done { continuation.resume() }
        }
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
            nameCurrentThread("agora-mqtt")
            me.body()
            return nil
        }, context)
        precondition(code == 0, "cannot start the MQTT network thread (pthread_create: \(code))")
        pthread_detach(thread)
    }
}
