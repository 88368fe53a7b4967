internal import Logging
internal import ServiceLifecycle
#if canImport(Glibc)
internal import Glibc
#endif

/// The sd_notify protocol (systemd's `Type=notify`), spoken directly: one datagram per
/// state change to the Unix socket in `$NOTIFY_SOCKET`. Written by hand because it is ten
/// lines of socket code and linking libsystemd would add a dependency to a static binary.
public struct SystemdNotifier: Sendable {
    let socketPath: String?
    /// Half of `WatchdogSec`, when systemd asked this process for keep-alives.
    public let watchdogInterval: Duration?

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"]
        socketPath = (path?.isEmpty ?? true) ? nil : path
        if let usec = environment["WATCHDOG_USEC"].flatMap(Int64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { socketPath != nil }

    /// Sends `state` (e.g. `READY=1`); false when not run by systemd or the send failed.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                Array(state.utf8).withUnsafeBytes { bytes in
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), address, length)
                }
            }
        }
        return sent == state.utf8.count
    }
}

/// Tells systemd `READY=1` once the gateway is serving, then keeps its watchdog fed
/// (`WATCHDOG=1` every half `WatchdogSec`) until shutdown, when it says `STOPPING=1`.
struct ReadinessService: Service {
    let notifier: SystemdNotifier
    /// True once serving; false when the listeners failed (their service throws and the group stops).
    let ready: @Sendable () async -> Bool
    let started: ContinuousClock.Instant
    let logger: Logger

    func run() async throws {
        guard await ready() else {
            // The listeners failed: their service throws, and that error is the reason the
            // group stops. Returning now would race it — a service that returns is itself a
            // failure to the group (`serviceFinishedUnexpectedly`), and whichever lands first
            // is what `serve` reports. Waiting for the group to cancel us leaves it the bind error.
            try? await gracefulShutdown()
            return
        }
        let elapsed = ContinuousClock.now - started
        notifier.notify("READY=1\nSTATUS=serving")
        logger.notice("agora serve ready", metadata: ["ready_ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
                                                     "systemd": "\(notifier.isActive)"])
        if let interval = notifier.watchdogInterval {
            while !Task.isShuttingDownGracefully, !Task.isCancelled {  // cancelled: another service failed; a cancelled sleep returns at once
                notifier.notify("WATCHDOG=1")
                try? await Task.sleep(for: interval)
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.notify("STOPPING=1")
    }
}
